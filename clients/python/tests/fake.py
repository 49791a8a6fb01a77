"""A small in-process fake of the taskmodel server for unit tests: the task
routes, the worker protocol and the pipeline routes, in memory."""

import datetime
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN = "tm_test"


class FakeServer:
    def __init__(self):
        self.tasks = {}      # id -> task dict
        self.leases = {}     # id -> lease
        self.requests = []   # (method, path, query, body)
        self.traceparents = []  # (method, path, the traceparent header or None)
        self.events = {}     # id -> raw SSE text to send
        self.lock = threading.Lock()
        self.heartbeat_seconds = 0.2
        self.released = []   # (id, message) of each release
        self.on_claim = None  # called before a claim is answered
        # Called with (action, body) before a complete or fail is handled:
        # None handles it; (status, kind, detail) answers that problem
        # instead; (status, kind, detail, True) handles it and then answers
        # the problem (the write happened, its answer was lost).
        self.on_end = None
        self.lease_seconds = 30.0
        self.ended = {}      # id -> (action, lease) of the end written
        # The last segment of a path (claim, heartbeat, complete, tasks…)
        # -> how many of its next requests get an answer cut short: its
        # headers promise more bytes than are sent before the connection
        # closes. The request is not handled.
        self.cut = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.handle(self, "GET")

            def do_POST(self):
                fake.handle(self, "POST")

        self._handler = Handler
        self.port = 0
        self.listen()
        self.url = "http://127.0.0.1:%d" % self.port

    def listen(self):
        """Starts answering (again, on the same port after close)."""
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        """Stops answering: connections are refused until listen()."""
        if self.httpd is None:
            return
        self.httpd.shutdown()
        self.httpd.server_close()
        self.httpd = None

    def expiry(self):
        """A lease's expiry from now, as the server writes it (RFC 3339, nanoseconds)."""
        t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=self.lease_seconds)
        return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"

    def add_task(self, task_type="training", status="QUEUED", **fields):
        tid = str(uuid.uuid4())
        t = {"task_id": tid, "task_type": task_type, "id": tid, "status": status, "version": 1}
        t.update(fields)
        with self.lock:
            self.tasks[tid] = t
        return t

    def handle(self, h, method):
        parts = urlsplit(h.path)
        path, query = parts.path, parse_qs(parts.query)
        n = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(n) if n else b""
        body = json.loads(raw) if raw else None
        with self.lock:
            self.requests.append((method, path, query, body))
            self.traceparents.append((method, path, h.headers.get("traceparent")))
        with self.lock:
            cut = self.cut.get(path.rstrip("/").rsplit("/", 1)[-1], 0) > 0
            if cut:
                self.cut[path.rstrip("/").rsplit("/", 1)[-1]] -= 1
        if cut:
            return self.cut_short(h)
        if h.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.problem(h, 401, "unauthorized", "Unauthorized", "a bearer token is required")
        seg = path.strip("/").split("/")
        try:
            if seg == ["tasks"] and method == "POST":
                t = self.add_task(**{k: v for k, v in body.items()}, _traceparent=h.headers.get("traceparent"))
                return self.json(h, 201, t)
            if seg == ["tasks"] and method == "GET":
                return self.json(h, 200, [{"id": t["id"], "task_type": t["task_type"], "task_status": "Q"} for t in self.tasks.values()])
            if len(seg) >= 2 and seg[0] == "tasks":
                t = self.tasks.get(seg[1])
                if t is None:
                    return self.problem(h, 404, "not-found", "Not found", "no such task")
                if len(seg) == 2:
                    return self.json(h, 200, t)
                if seg[2] == "cancel":
                    if t["status"] in ("DONE", "FAILED", "CANCELLED"):
                        return self.problem(h, 409, "transition", "Transition not allowed", "cancel is not possible", current_status=t["status"])
                    t["status"] = "CANCELLED"
                    t["version"] += 1
                    return self.json(h, 200, t)
                if seg[2] == "events":
                    return self.stream(h, self.events.get(t["id"], ""))
            if seg[:1] == ["worker"]:
                return self.worker(h, seg[1:], body)
            if seg[:1] == ["pipelines"]:
                return self.json(h, 201 if seg == ["pipelines", "runs"] else 200, {"id": "run-1", "echo": [method, path, body, query]})
        except Exception as e:  # a bug of the fake
            return self.problem(h, 500, "internal", "fake failed", repr(e))
        return self.problem(h, 404, "not-found", "Not found", "no route")

    def worker(self, h, seg, body):
        if seg == ["claim"]:
            if self.on_claim:
                self.on_claim()
            out = []
            with self.lock:
                for t in self.tasks.values():
                    if len(out) >= body.get("limit", 1):
                        break
                    if t["status"] == "QUEUED" and t["task_type"] in body["models"]:
                        t["status"] = "RUNNING"
                        lease = uuid.uuid4().hex
                        self.leases[t["id"]] = lease
                        c = {"task_type": t["task_type"], "id": t["id"], "lease": lease,
                             "lease_expires_at": self.expiry(),
                             "heartbeat_seconds": self.heartbeat_seconds, "task": dict(t)}
                        if t.get("_traceparent"):
                            c["traceparent"] = t["_traceparent"]
                        out.append(c)
            return self.json(h, 200, {"tasks": out})
        tid, action = seg[1], seg[2]
        t = self.tasks.get(tid)
        after = None
        if action in ("complete", "fail") and self.on_end:
            answer = self.on_end(action, body)
            if answer and len(answer) == 4:
                after = answer[:3]
            elif answer:
                status, kind, detail = answer
                return self.problem(h, status, kind, "HTTP %d" % status, detail)
        if t is not None and self.ended.get(tid) == (action, body.get("lease")):
            # A retried end whose first try was written: answered as it was.
            return self.json(h, 200, t)
        if t is None or self.leases.get(tid) != body.get("lease"):
            return self.problem(h, 409, "lease-lost", "Lease lost", "the lease is not held")
        if action in ("heartbeat", "progress"):
            if action == "progress":
                if not 0 <= body.get("percent", 0) <= 100:
                    return self.problem(h, 400, "validation", "Invalid request", "percent: must be between 0 and 100",
                                        errors=[{"field": "percent", "rule": "range", "message": "must be between 0 and 100"}])
                t["progress"] = body.get("percent")
            return self.json(h, 200, {"cancelled": t["status"] == "CANCELLED", "lease_expires_at": self.expiry()})
        if t["status"] != "RUNNING":
            return self.problem(h, 409, "transition", "Transition not allowed", "not running", current_status=t["status"])
        if action == "release":
            t["status"] = "QUEUED"
            del self.leases[tid]
            t["version"] += 1
            self.released.append((tid, body.get("message")))
            return self.json(h, 200, t)
        if action == "complete":
            if "epochs" in (body.get("result") or {}):
                return self.problem(h, 400, "validation", "Invalid request", "result.epochs: not a result field of training",
                                    errors=[{"field": "result.epochs", "rule": "unknown", "message": "not a result field of training"}])
            t["status"], t["result"] = "DONE", body.get("result")
        elif action == "fail":
            msg = body.get("message") or ""
            if len(msg.encode("utf-8")) > 100_000:
                return self.problem(h, 400, "validation", "Invalid request", "message: must be at most 100000 bytes",
                                    errors=[{"field": "message", "rule": "max_len", "message": "must be at most 100000 bytes"}])
            if "\x00" in msg:
                return self.problem(h, 400, "validation", "Invalid request", "message: contains a NUL character (U+0000); text may not contain it",
                                    errors=[{"field": "message", "rule": "text", "message": "contains a NUL character (U+0000); text may not contain it"}])
            t["status"], t["error_code"], t["error_message"] = "FAILED", body.get("error_code"), body.get("message")
        t["version"] += 1
        self.ended[tid] = (action, body.get("lease"))
        if after:
            return self.problem(h, after[0], after[1], "HTTP %d" % after[0], after[2])
        return self.json(h, 200, t)

    def json(self, h, status, v):
        data = json.dumps(v).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def cut_short(self, h):
        """An answer that breaks off: 100 bytes promised, 5 sent."""
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", "100")
        h.end_headers()
        h.wfile.write(b'{"tas')
        h.close_connection = True

    def problem(self, h, status, kind, title, detail, **more):
        p = {"type": "urn:taskmodel:problem:" + kind, "title": title, "status": status, "detail": detail}
        p.update(more)
        data = json.dumps(p).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/problem+json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def stream(self, h, text):
        data = text.encode()
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
