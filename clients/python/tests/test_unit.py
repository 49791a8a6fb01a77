"""The client, worker and tracker against the in-process fake server."""

import json
import logging
import os
import sys
import threading
import time
import unittest

import taskmodel
from taskmodel import Client, LeaseLost, ProblemError, StreamUnauthorized, TaskCancelled, TaskFailed, Tracker, Worker
from taskmodel import tracker as tracker_module
from taskmodel.models import MODELS, training

from .fake import TOKEN, FakeServer


class FakeTest(unittest.TestCase):
    def setUp(self):
        self.fake = FakeServer()
        self.addCleanup(self.fake.close)
        self.client = Client(self.fake.url, TOKEN)

    def run_worker(self, worker, n, concurrency=2):
        done = threading.Thread(target=worker.run, kwargs={"concurrency": concurrency, "max_tasks": n, "handle_signals": False})
        done.start()
        done.join(20)
        self.assertFalse(done.is_alive(), "the worker did not return")


class ClientTest(FakeTest):
    def test_create_get_cancel(self):
        t = self.client.create("training", base_model="m", epochs=2)
        self.assertEqual(self.fake.requests[-1][3], {"task_type": "training", "base_model": "m", "epochs": 2})
        self.assertEqual(self.client.get(t["task_id"])["status"], training.Status.QUEUED)
        self.assertEqual(self.client.cancel(t["task_id"])["status"], "CANCELLED")
        with self.assertRaises(ProblemError) as cm:
            self.client.cancel(t["task_id"])
        self.assertEqual((cm.exception.status, cm.exception.kind, cm.exception.current_status), (409, "transition", "CANCELLED"))

    def test_list_query(self):
        self.client.list(task_type=["training", "evaluation"], status=["Q", "R"], tag="x", limit=5, offset=0, within_hours=2)
        _, path, query, _ = self.fake.requests[-1]
        self.assertEqual(path, "/tasks")
        self.assertEqual(query, {"task_type": ["training", "evaluation"], "status": ["Q", "R"], "tag": ["x"],
                                 "limit": ["5"], "offset": ["0"], "within_hours": ["2"]})
        self.client.list()
        self.assertEqual(self.fake.requests[-1][2], {})

    def test_errors(self):
        cases = [
            ("unauthorized", lambda: Client(self.fake.url, "wrong").get("x"), 401, "unauthorized", None),
            ("not found", lambda: self.client.get("nope"), 404, "not-found", None),
        ]
        for name, call, status, kind, field in cases:
            with self.subTest(name):
                with self.assertRaises(ProblemError) as cm:
                    call()
                e = cm.exception
                self.assertEqual((e.status, e.kind, e.field), (status, kind, field))
                self.assertTrue(e.title and e.detail, e.problem)
        with self.assertRaises(ValueError):
            self.client.get("../etc")
        with self.assertRaises(ValueError):
            Client("ftp://x", TOKEN)

    def test_answer_cut_short(self):
        # An answer that breaks off is an error of the client, as a server
        # that cannot be reached is, not an http.client exception.
        self.fake.cut["tasks"] = 1
        with self.assertRaises(taskmodel.TaskmodelError) as cm:
            self.client.list()
        self.assertNotIsInstance(cm.exception, ProblemError)
        self.assertEqual(str(cm.exception), "GET /tasks: the answer of %s broke off (5 bytes read, 95 more expected)" % self.fake.url)
        self.assertEqual(self.client.list(), [])

    def test_wait(self):
        t = self.fake.add_task(status="RUNNING")
        threading.Timer(0.3, lambda: self.fake.tasks[t["id"]].update(status="DONE")).start()
        self.assertEqual(self.client.wait(t["id"], interval=0.05, timeout=10)["status"], "DONE")
        t2 = self.fake.add_task(status="RUNNING")
        with self.assertRaises(TimeoutError):
            self.client.wait(t2["id"], interval=0.05, timeout=0.2)

    def test_follow(self):
        t = self.fake.add_task(status="QUEUED")
        task = lambda status, v: json.dumps(dict(t, status=status, version=v))
        self.fake.events[t["id"]] = ("retry: 10\n\n: keep-alive\n\nevent: task\nid: 1\ndata: %s\n\n"
                                     "event: task\nid: 1\ndata: %s\n\n"
                                     "event: task\nid: 2\ndata: %s\n\n" % (task("QUEUED", 1), task("QUEUED", 1), task("DONE", 2)))
        got = [x["status"] for x in self.client.follow(t["id"])]
        self.assertEqual(got, ["QUEUED", "DONE"])
        self.fake.events[t["id"]] = "event: task\ndata: %s\n\nevent: unauthorized\ndata: {\"detail\":\"revoked\"}\n\n" % task("RUNNING", 1)
        with self.assertRaises(StreamUnauthorized) as cm:
            list(self.client.follow(t["id"]))
        self.assertEqual(cm.exception.detail, "revoked")
        # A task the server can no longer follow ends the stream with the
        # problem GET would answer: raised, not taken for a finish, not retried.
        problem = {"type": "urn:taskmodel:problem:undeclared-value", "title": "Task written by a newer version", "status": 503, "detail": "newer"}
        self.fake.events[t["id"]] = "event: task\ndata: %s\n\nevent: problem\ndata: %s\n\n" % (task("RUNNING", 1), json.dumps(problem))
        before = len(self.fake.requests)
        with self.assertRaises(taskmodel.ProblemError) as pm:
            list(self.client.follow(t["id"]))
        self.assertEqual((pm.exception.status, pm.exception.type, pm.exception.detail), (503, problem["type"], "newer"))
        self.assertEqual(len(self.fake.requests) - before, 1)
        # A stream that ends before a terminal status is reopened, then given up.
        self.fake.events[t["id"]] = "retry: 10\n\nevent: task\ndata: %s\n\n" % task("RUNNING", 1)
        with self.assertRaises(taskmodel.TaskmodelError):
            list(self.client.follow(t["id"], reconnect=2))
        opened = [r for r in self.fake.requests if r[1].endswith("/events")]
        self.assertEqual(len(opened), 3 + 3)

    def test_models(self):
        self.assertIs(MODELS["training"], training)
        self.assertEqual(set(training.TERMINAL_STATUSES), {"DONE", "FAILED", "CANCELLED"})
        self.assertTrue(taskmodel.is_terminal({"task_type": "training", "status": "DONE"}))
        with self.assertRaises(ValueError):
            taskmodel.is_terminal({"task_type": "nope", "status": "DONE"})


class WorkerTest(FakeTest):
    def test_outcomes(self):
        logging.getLogger("taskmodel").setLevel(logging.CRITICAL)
        self.addCleanup(logging.getLogger("taskmodel").setLevel, logging.NOTSET)
        ok = self.fake.add_task(tag="ok")
        failed = self.fake.add_task(tag="failed")
        crashed = self.fake.add_task(tag="crash")
        w = Worker(self.client, models=["training"], wait_seconds=0, error_code="WORKER_ERROR")

        @w.handler("training")
        def handle(task):
            task.progress(50, {"epoch": 1})
            if task.data["tag"] == "failed":
                raise TaskFailed("OUT_OF_MEMORY", "too big")
            if task.data["tag"] == "crash":
                raise RuntimeError("boom")
            return {"accuracy": 0.9}

        self.run_worker(w, 3)
        self.assertEqual(self.fake.tasks[ok["id"]]["status"], "DONE")
        self.assertEqual(self.fake.tasks[ok["id"]]["result"], {"accuracy": 0.9})
        f = self.fake.tasks[failed["id"]]
        self.assertEqual((f["status"], f["error_code"], f["error_message"]), ("FAILED", "OUT_OF_MEMORY", "too big"))
        c = self.fake.tasks[crashed["id"]]
        self.assertEqual((c["status"], c["error_code"], c["error_message"]), ("FAILED", "WORKER_ERROR", "RuntimeError: boom"))

    def test_results_refused_and_exits(self):
        logging.getLogger("taskmodel").setLevel(logging.CRITICAL)
        self.addCleanup(logging.getLogger("taskmodel").setLevel, logging.NOTSET)
        cases = [
            # (tag, what the handler does, the task's error message)
            ("garbage", lambda: "garbage", "the handler returned str, not a dict of result fields (or None for none)"),
            ("list", lambda: [1], "the handler returned list, not a dict of result fields (or None for none)"),
            ("epochs", lambda: {"epochs": 5}, "the server refused the handler's result: result.epochs: not a result field of training"),
            ("exit3", lambda: sys.exit(3), "the handler exited with status 3"),
            ("exit-text", lambda: sys.exit("no GPU"), "the handler exited: no GPU"),
        ]
        for tag, act, want in cases:
            with self.subTest(tag):
                t = self.fake.add_task(tag=tag)
                w = Worker(self.client, models=["training"], wait_seconds=0, error_code="WORKER_ERROR")
                w.handler("training")(lambda task, act=act: act())
                self.run_worker(w, 1)
                got = self.fake.tasks[t["id"]]
                self.assertEqual((got["status"], got["error_code"], got["error_message"]), ("FAILED", "WORKER_ERROR", want))

    def test_results_not_json(self):
        """A result JSON cannot hold fails the task at once, naming the
        field; it was left RUNNING until its lease expired, and ran again."""
        import datetime
        import decimal
        logging.getLogger("taskmodel").setLevel(logging.CRITICAL)
        self.addCleanup(logging.getLogger("taskmodel").setLevel, logging.NOTSET)
        int64 = type("int64", (), {"__module__": "numpy"})  # as numpy.int64, not an int
        loop = {"a": []}
        loop["a"].append(loop)
        hint = "; a result holds only strings, numbers, booleans, None, lists and dicts"
        cases = [
            ({"records_processed": datetime.datetime(2024, 5, 1)}, "result.records_processed: a datetime is not a JSON value" + hint),
            ({"files": [1, {"names": {"x"}}]}, "result.files[1].names: a set is not a JSON value" + hint),
            ({"size": decimal.Decimal("1.5")}, "result.size: a Decimal is not a JSON value" + hint),
            ({"records_processed": int64()}, "result.records_processed: a numpy.int64 is not a JSON value" + hint),
            ({"loss": float("nan")}, "result.loss: nan is not a JSON value (JSON has no NaN or infinity)"),
            ({"by_pair": {(1, 2): 3}}, "result.by_pair: the key (1, 2) is a tuple, not a string: JSON keys are strings"),
            (loop, "result.a[0]: refers back to a value that holds it (a circular reference), which JSON cannot write"),
        ]
        for result, want in cases:
            with self.subTest(want):
                t = self.fake.add_task()
                w = Worker(self.client, models=["training"], wait_seconds=0, error_code="WORKER_ERROR")
                w.handler("training")(lambda task, result=result: result)
                self.run_worker(w, 1)
                got = self.fake.tasks[t["id"]]
                self.assertEqual((got["status"], got["error_code"], got["error_message"]),
                                 ("FAILED", "WORKER_ERROR", "the handler's result cannot be sent: " + want))
        # Values JSON holds are sent as they are.
        t = self.fake.add_task()
        w = Worker(self.client, models=["training"], wait_seconds=0)
        w.handler("training")(lambda task: {"n": 1, "ok": True, "x": None, "l": (1.5, "s"), "d": {1: [], "k": {}}})
        self.run_worker(w, 1)
        got = self.fake.tasks[t["id"]]
        self.assertEqual((got["status"], got["result"]), ("DONE", {"n": 1, "ok": True, "x": None, "l": [1.5, "s"], "d": {"1": [], "k": {}}}))

    def test_exception_without_text(self):
        """An exception whose text cannot be made (its __str__ raises)
        fails the task all the same, described by its repr or its type."""
        logging.getLogger("taskmodel").setLevel(logging.CRITICAL)
        self.addCleanup(logging.getLogger("taskmodel").setLevel, logging.NOTSET)

        class NoText(Exception):
            def __str__(self):
                raise ValueError("no text")

        class Nothing(NoText):
            def __repr__(self):
                raise ValueError("no repr")

        cases = [
            (NoText("disk full"), "NoText: NoText('disk full') (its message could not be made: str() failed on it; this is its repr())"),
            (Nothing("disk full"), "Nothing (its message could not be made: both str() and repr() failed on it; "
                                   "the worker's log has its traceback)"),
            (RuntimeError(), "RuntimeError"),
        ]
        for exc, want in cases:
            with self.subTest(want):
                t = self.fake.add_task()
                w = Worker(self.client, models=["training"], wait_seconds=0, error_code="WORKER_ERROR")

                def handle(task, exc=exc):
                    raise exc
                w.handler("training")(handle)
                self.run_worker(w, 1)
                got = self.fake.tasks[t["id"]]
                self.assertEqual((got["status"], got["error_code"], got["error_message"]), ("FAILED", "WORKER_ERROR", want))

    def test_exit_stops_the_worker(self):
        logging.getLogger("taskmodel").setLevel(logging.CRITICAL)
        self.addCleanup(logging.getLogger("taskmodel").setLevel, logging.NOTSET)
        first = self.fake.add_task()
        second = self.fake.add_task()
        w = Worker(self.client, models=["training"], wait_seconds=0)

        @w.handler("training")
        def handle(task):
            sys.exit(3)

        with self.assertRaises(SystemExit) as cm:
            w.run(concurrency=1, handle_signals=False)
        self.assertEqual(cm.exception.code, 3)
        self.assertEqual(self.fake.tasks[first["id"]]["status"], "FAILED")
        self.assertEqual(self.fake.tasks[first["id"]]["error_message"], "the handler exited with status 3")
        self.assertEqual(self.fake.tasks[second["id"]]["status"], "QUEUED")
        # The exit is raised once: a second run claims again.
        w.handlers["training"] = lambda task: None
        self.assertEqual(w.run(concurrency=1, max_tasks=1, handle_signals=False), 1)
        self.assertEqual(self.fake.tasks[second["id"]]["status"], "DONE")

    def test_exit_status_of_the_process(self):
        # A worker process whose handler calls sys.exit(N) exits with N,
        # once the task has failed; sys.exit("text") with 1.
        import subprocess
        script = (
            "import sys\n"
            "from taskmodel import Worker\n"
            "w = Worker(sys.argv[1], sys.argv[2], models=['training'], wait_seconds=0)\n"
            "w.handler('training')(lambda task: sys.exit(eval(sys.argv[3])))\n"
            "w.run()\n"
            "print('run returned')\n"
        )
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        for arg, status, message in (("3", 3, "the handler exited with status 3"),
                                     ("'no GPU'", 1, "the handler exited: no GPU"),
                                     ("0", 0, "the handler exited with status 0")):
            with self.subTest(arg):
                t = self.fake.add_task()
                p = subprocess.run([sys.executable, "-c", script, self.fake.url, TOKEN, arg], cwd=root,
                                   env=dict(os.environ, PYTHONPATH=root), capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, status, p.stderr)
                self.assertNotIn("run returned", p.stdout)
                got = self.fake.tasks[t["id"]]
                self.assertEqual((got["status"], got["error_message"]), ("FAILED", message))

    def test_cancel_by_heartbeat_and_progress(self):
        for via in ("heartbeat", "progress"):
            with self.subTest(via):
                t = self.fake.add_task()
                w = Worker(self.client, models=["training"], wait_seconds=0)
                seen = {}

                @w.handler("training")
                def handle(task):
                    self.fake.tasks[task.id]["status"] = "CANCELLED"
                    if via == "heartbeat":
                        seen["flag"] = task.wait(10)
                    try:
                        while True:
                            task.progress(10)
                            time.sleep(0.01)
                    except TaskCancelled as e:
                        seen["reason"] = e.reason
                        raise

                self.run_worker(w, 1)
                self.assertEqual(seen["reason"], "cancelled")
                if via == "heartbeat":
                    self.assertTrue(seen["flag"])
                self.assertFalse([r for r in self.fake.requests if r[1].endswith(("/complete", "/fail")) and t["id"] in r[1]])

    def test_progress_while_the_server_restarts(self):
        """A progress report the server cannot take is dropped with a
        warning; the handler goes on and its task completes once the server
        is back."""
        t = self.fake.add_task()
        w = Worker(self.client, models=["training"], wait_seconds=0)
        seen = {}

        @w.handler("training")
        def handle(task):
            task.progress(10)
            self.fake.close()
            with self.assertLogs("taskmodel.worker", level="WARNING") as logs:
                task.progress(20)  # refused: no server
            seen["logs"] = logs.output
            self.fake.listen()
            return {}

        self.run_worker(w, 1)
        # The heartbeat thread may warn too while the server is away.
        dropped = [m for m in seen["logs"] if "progress report dropped, the server cannot take it now" in m]
        self.assertEqual(len(dropped), 1, seen["logs"])
        self.assertEqual(self.fake.tasks[t["id"]]["status"], "DONE")

    def test_answers_cut_short(self):
        """An answer that breaks off (http.client.IncompleteRead) is taken
        as a lost connection wherever it comes: the claim is retried, the
        heartbeats go on, and the end is reported again."""
        logging.getLogger("taskmodel").setLevel(logging.CRITICAL)
        self.addCleanup(logging.getLogger("taskmodel").setLevel, logging.NOTSET)
        died = []
        hook = threading.excepthook
        threading.excepthook = lambda args: died.append((args.thread.name, args.exc_value))
        self.addCleanup(setattr, threading, "excepthook", hook)
        t = self.fake.add_task()
        self.fake.cut.update(claim=1, heartbeat=2, progress=1, complete=1)
        w = Worker(self.client, models=["training"], wait_seconds=0)
        seen = {}

        @w.handler("training")
        def handle(task):
            task.progress(10)  # cut: dropped, as a report the server cannot take
            beats = lambda: [r for r in self.fake.requests if r[1] == "/worker/tasks/%s/heartbeat" % task.id]
            deadline = time.monotonic() + 10
            while len(beats()) < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            seen["heartbeats"] = len(beats())
            return {"accuracy": 0.5}

        self.run_worker(w, 1)
        self.assertEqual(died, [])
        self.assertGreaterEqual(seen.get("heartbeats", 0), 4, "the heartbeats stopped after an answer broke off")
        self.assertEqual(self.fake.tasks[t["id"]]["status"], "DONE")
        self.assertEqual(self.fake.cut, dict(claim=0, heartbeat=0, progress=0, complete=0))

    def test_lease_lost(self):
        self.fake.add_task()
        w = Worker(self.client, models=["training"], wait_seconds=0)
        seen = {}

        @w.handler("training")
        def handle(task):
            self.fake.leases[task.id] = "someone-else"
            try:
                task.progress(1)
            except TaskCancelled as e:
                seen["reason"] = e.reason
                raise

        self.run_worker(w, 1)
        self.assertEqual(seen["reason"], "lease lost")
        with self.assertRaises(LeaseLost):
            self.client.heartbeat(list(self.fake.tasks)[0], "bad")

    def test_refusals(self):
        w = Worker(self.client, models=["training"])
        with self.assertRaises(ValueError):
            w.run(handle_signals=False)
        with self.assertRaises(ValueError):
            Worker(self.client, wait_seconds=31)

    def test_release(self):
        t = self.fake.add_task()
        c = self.client.claim(["training"])[0]
        got = self.client.release(c["id"], c["lease"], "no GPU free")
        self.assertEqual(got["status"], "QUEUED")
        self.assertEqual(self.fake.requests[-1][3], {"lease": c["lease"], "message": "no GPU free"})
        c = self.client.claim(["training"])[0]
        self.client.release(c["id"], c["lease"])
        self.assertEqual(self.fake.requests[-1][3], {"lease": c["lease"]})
        # A second release with the same lease: the lease holds nothing.
        with self.assertRaises(LeaseLost):
            self.client.release(c["id"], c["lease"])
        self.assertEqual(self.fake.released, [(t["id"], "no GPU free"), (t["id"], None)])

    def test_stop_gives_back_tasks_not_started(self):
        # stop() (a SIGTERM) lands while the claim is in flight: the tasks
        # it returns are given back, and no handler runs.
        logging.getLogger("taskmodel").setLevel(logging.CRITICAL)
        self.addCleanup(logging.getLogger("taskmodel").setLevel, logging.NOTSET)
        tasks = [self.fake.add_task() for _ in range(2)]
        w = Worker(self.client, models=["training"], wait_seconds=0)
        ran = []
        w.handler("training")(lambda task: ran.append(task.id))
        self.fake.on_claim = w.stop
        self.assertEqual(w.run(concurrency=2, handle_signals=False), 0)
        self.assertEqual(ran, [])
        for t in tasks:
            self.assertEqual(self.fake.tasks[t["id"]]["status"], "QUEUED")
        self.assertEqual(sorted(self.fake.released), sorted((t["id"], "the worker is stopping") for t in tasks))

    def test_stop_before_the_handler_starts(self):
        # A task whose thread starts after stop() is given back too.
        logging.getLogger("taskmodel").setLevel(logging.CRITICAL)
        self.addCleanup(logging.getLogger("taskmodel").setLevel, logging.NOTSET)
        t = self.fake.add_task()
        w = Worker(self.client, models=["training"], wait_seconds=0)
        ran = []
        w.handler("training")(lambda task: ran.append(task.id))
        c = self.client.claim(["training"])[0]
        w.stop()
        slots = threading.Semaphore(0)
        w._run_one(c, slots)
        self.assertTrue(slots.acquire(blocking=False), "the slot was not freed")
        self.assertEqual(ran, [])
        self.assertEqual(self.fake.tasks[t["id"]]["status"], "QUEUED")
        self.assertEqual(self.fake.released, [(t["id"], "the worker is stopping")])

    def test_stop(self):
        w = Worker(self.client, models=["training"], wait_seconds=0)
        w.handler("training")(lambda task: None)
        th = threading.Thread(target=w.run, kwargs={"handle_signals": False})
        th.start()
        time.sleep(0.2)
        w.stop()
        th.join(10)
        self.assertFalse(th.is_alive())


class TraceparentTest(FakeTest):
    TASK = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    SPAN = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"

    def sent(self, task_id, action):
        return [tp for (m, p, tp) in self.fake.traceparents if p == "/worker/tasks/%s/%s" % (task_id, action)]

    def test_create_sends_it(self):
        t = self.client.create("training", {"tag": "x"}, traceparent=self.TASK)
        self.assertEqual(self.fake.tasks[t["id"]]["_traceparent"], self.TASK)
        t = self.client.create("training", tag="y")
        self.assertIsNone(self.fake.tasks[t["id"]]["_traceparent"])

    def test_worker_carries_and_continues_it(self):
        cases = [
            # (the claim's traceparent, what the handler sets, what the reports carry)
            ("kept", self.TASK, None, self.TASK),
            ("continued under the handler's span", self.TASK, self.SPAN, self.SPAN),
            ("none", None, None, None),
        ]
        for name, claimed, handler_sets, reported in cases:
            with self.subTest(name):
                t = self.fake.add_task(tag=name, _traceparent=claimed)
                seen = []
                w = Worker(self.client, models=["training"], wait_seconds=0)

                @w.handler("training")
                def handle(task):
                    seen.append(task.traceparent)
                    if handler_sets:
                        task.traceparent = handler_sets
                    task.progress(50)
                    return {}

                self.run_worker(w, 1, concurrency=1)
                self.assertEqual(seen, [claimed])
                self.assertEqual(self.fake.tasks[t["id"]]["status"], "DONE")
                self.assertEqual(self.sent(t["id"], "progress"), [reported])
                self.assertEqual(self.sent(t["id"], "complete"), [reported])


class TrackerTest(FakeTest):
    def test_routes(self):
        tr = Tracker(self.fake.url, TOKEN)
        tracker_module.set_default_tracker(tr)  # the module's functions
        self.addCleanup(tracker_module.set_default_tracker, None)
        run = tr.task_start("S", "T", total_subtasks=3, message="go", environment={"env": "test"})
        self.assertEqual(run, "run-1")
        calls = [
            (lambda: tr.task_update(run, percent=40, message="m"), "/pipelines/runs/run-1/update", {"percent": 40, "message": "m"}),
            (lambda: tr.task_update(run, "COMPLETED", message="ok"), "/pipelines/runs/run-1/complete", {"message": "ok"}),
            (lambda: tr.task_update(run, "failed", error_message="e"), "/pipelines/runs/run-1/fail", {"message": "e"}),
            (lambda: tr.task_complete(run, force=True), "/pipelines/runs/run-1/complete", {"force": True}),
            (lambda: tr.task_fail(run, "bad", detail="d"), "/pipelines/runs/run-1/fail", {"message": "bad", "detail": "d"}),
            (lambda: tr.task_skip(run, "nothing to do"), "/pipelines/runs/run-1/skip", {"message": "nothing to do"}),
            (lambda: tr.task_cancel(run), "/pipelines/runs/run-1/cancel", {}),
            (lambda: tr.task_update(run, "skipped"), "/pipelines/runs/run-1/skip", {}),
            (lambda: tr.task_update(run, "CANCELLED", message="stop"), "/pipelines/runs/run-1/cancel", {"message": "stop"}),
            (lambda: tracker_module.task_cancel(run), "/pipelines/runs/run-1/cancel", {}),
            (lambda: tr.subtask_start(run, 1, "load", items_total=5), "/pipelines/runs/run-1/subtasks/1/start", {"name": "load", "items_total": 5}),
            (lambda: tr.subtask_update(run, 1, items_complete=2), "/pipelines/runs/run-1/subtasks/1/update", {"items_complete": 2}),
            (lambda: tr.subtask_update(run, 1, "COMPLETED"), "/pipelines/runs/run-1/subtasks/1/complete", {}),
            (lambda: tr.subtask_increment(run, 2), "/pipelines/runs/run-1/subtasks/2/increment", {"by": 1}),
            (lambda: tr.subtask_complete(run, 2, "done"), "/pipelines/runs/run-1/subtasks/2/complete", {"message": "done"}),
            (lambda: tr.get_task_status("S"), "/pipelines/status", None),
            (lambda: tr.get_active_tasks(), "/pipelines/active", None),
            (lambda: tr.get_task_history(task="T", limit=3), "/pipelines/history", None),
            (lambda: tr.get_subtask_progress(run), "/pipelines/runs/run-1/subtasks", None),
        ]
        for call, path, body in calls:
            with self.subTest(path):
                call()
                self.assertEqual(self.fake.requests[-1][1], path)
                self.assertEqual(self.fake.requests[-1][3], body)
        self.assertEqual(self.fake.requests[-2][2], {"task": ["T"], "limit": ["3"]})
        for bad in (lambda: tr.task_update(run, "STARTED"), lambda: tr.task_update(run, "COMPLETED", percent=3),
                    lambda: tr.subtask_start(run, 0, "x"), lambda: tr.subtask_increment("", 1)):
            with self.assertRaises(ValueError):
                bad()

    def test_default_from_env(self):
        old = dict(os.environ)
        self.addCleanup(lambda: (os.environ.clear(), os.environ.update(old), tracker_module.set_default_tracker(None)))
        os.environ.pop("TASKMODEL_URL", None)
        tracker_module.set_default_tracker(None)
        with self.assertRaises(RuntimeError):
            tracker_module.get_active_tasks()
        os.environ["TASKMODEL_URL"], os.environ["TASKMODEL_TOKEN"] = self.fake.url, TOKEN
        tracker_module.get_active_tasks()
        self.assertEqual(self.fake.requests[-1][1], "/pipelines/active")

class TextTest(FakeTest):
    """Strings the server would refuse or that cannot be encoded are made
    sendable: lone surrogates readable, NUL characters gone from messages."""

    def quiet(self):
        logging.getLogger("taskmodel").setLevel(logging.CRITICAL)
        self.addCleanup(logging.getLogger("taskmodel").setLevel, logging.NOTSET)

    def test_clean(self):
        from taskmodel import text
        cases = [
            ("plain", "caf\u00e9", "caf\u00e9"),
            ("surrogateescape byte", os.fsdecode(b"caf\xe9.txt"), "caf\\xe9.txt"),
            ("another lone surrogate", "a\ud800b\udfffc", "a\\ud800b\\udfffc"),
            ("a pair", "\ud83d\ude00!", "\U0001f600!"),
            ("a low surrogate before a high one", "\ude00\ud83d", "\\ude00\\ud83d"),
        ]
        for name, given, want in cases:
            with self.subTest(name):
                self.assertEqual(text.clean(given), want)
                want.encode("utf-8")
        self.assertEqual(text.message("a\x00b\udce9"), "ab\\xe9")
        self.assertEqual(text.sanitize({"k\udce9": ["\udce9", 1, None, ("x",)]}), {"k\\xe9": ["\\xe9", 1, None, ["x"]]})

    def test_worker_reports(self):
        self.quiet()
        cases = [
            # (tag, what the handler does, the task's status, error message, result)
            ("surrogate in TaskFailed", lambda: (_ for _ in ()).throw(TaskFailed(None, "cannot open " + os.fsdecode(b"caf\xe9.txt"))),
             "FAILED", "cannot open caf\\xe9.txt", None),
            ("surrogate in an exception", lambda: (_ for _ in ()).throw(OSError("no such file: \udce9")),
             "FAILED", "OSError: no such file: \\xe9", None),
            ("NUL in a message", lambda: (_ for _ in ()).throw(TaskFailed(None, "bad\x00 input\x00")),
             "FAILED", "bad input", None),
            ("surrogate in a result", lambda: {"path": os.fsdecode(b"/data/\xff")}, "DONE", None, {"path": "/data/\\xff"}),
        ]
        for tag, act, status, message, result in cases:
            with self.subTest(tag):
                t = self.fake.add_task(tag=tag)
                w = Worker(self.client, models=["training"], wait_seconds=0)

                @w.handler("training")
                def handle(task, act=act):
                    task.progress(10, {"file": "\udce9"})
                    return act()

                self.run_worker(w, 1)
                got = self.fake.tasks[t["id"]]
                self.assertEqual((got["status"], got.get("error_message"), got.get("result")), (status, message, result))
                self.assertEqual(got["progress"], 10)

    def test_client_and_tracker(self):
        t = self.fake.add_task()
        c = self.client.claim(["training"])[0]
        self.client.release(c["id"], c["lease"], "no GPU\x00 on \udce9")
        self.assertEqual(self.fake.released, [(t["id"], "no GPU on \\xe9")])
        c = self.client.claim(["training"])[0]
        self.client.fail(c["id"], c["lease"], "bad\x00\udce9")
        self.assertEqual(self.fake.tasks[t["id"]]["error_message"], "bad\\xe9")
        self.client.create("training", tag="x\udce9")
        self.assertEqual(self.fake.requests[-1][3]["tag"], "x\\xe9")
        tr = Tracker(self.fake.url, TOKEN)
        tr.task_update("run-1", percent=5, message="step\x00 \udce9")
        self.assertEqual(self.fake.requests[-1][3], {"percent": 5, "message": "step \\xe9"})
        tr.task_fail("run-1", "e\x00", detail="d\x00\ud800")
        self.assertEqual(self.fake.requests[-1][3], {"message": "e", "detail": "d\\ud800"})

class EndRetryTest(FakeTest):
    """A task's end report is retried while the server is unreachable or
    answers 408, 429, 500, 502, 503 or 504, until the lease expires."""

    def setUp(self):
        super().setUp()
        logging.getLogger("taskmodel").setLevel(logging.CRITICAL)
        self.addCleanup(logging.getLogger("taskmodel").setLevel, logging.NOTSET)

    def ends(self, task_id):
        return [r[1].rsplit("/", 1)[1] for r in self.fake.requests if r[1].startswith("/worker/tasks/%s/" % task_id)
                and r[1].endswith(("/complete", "/fail"))]

    def worker(self, outcome):
        w = Worker(self.client, models=["training"], wait_seconds=0, error_code="WORKER_ERROR")

        @w.handler("training")
        def handle(task):
            if outcome == "fail":
                raise TaskFailed(None, "out of memory")
            return {"accuracy": 0.5}
        return w

    def answer_first(self, n, *answer):
        calls = []

        def on_end(action, body):
            calls.append(action)
            return answer if len(calls) <= n else None
        self.fake.on_end = on_end

    def test_answers_retried(self):
        for outcome, status in (("complete", "DONE"), ("fail", "FAILED")):
            for code in (503, 502, 504, 500, 429, 408):
                with self.subTest(outcome=outcome, code=code):
                    t = self.fake.add_task()
                    n = 2 if code == 503 else 1
                    self.answer_first(n, code, "unavailable", "the server is restarting")
                    self.run_worker(self.worker(outcome), 1)
                    self.assertEqual(self.fake.tasks[t["id"]]["status"], status)
                    self.assertEqual(self.ends(t["id"]), [outcome] * (n + 1))

    def test_written_but_its_answer_lost(self):
        # The first try was written; a proxy answered 502. The retry, with
        # the same lease, is answered 200.
        t = self.fake.add_task()
        self.answer_first(1, 502, "bad-gateway", "the upstream timed out", True)
        self.run_worker(self.worker("complete"), 1)
        self.assertEqual(self.fake.tasks[t["id"]]["status"], "DONE")
        self.assertEqual(self.ends(t["id"]), ["complete", "complete"])

    def test_server_unreachable_then_back(self):
        for outcome, status in (("complete", "DONE"), ("fail", "FAILED")):
            with self.subTest(outcome):
                t = self.fake.add_task()
                w = self.worker(outcome)
                inner = w.handlers["training"]

                def handle(task, inner=inner):
                    # The server restarts as the handler ends: connections
                    # are refused for a second.
                    self.fake.close()
                    threading.Timer(1.0, self.fake.listen).start()
                    return inner(task)
                w.handlers["training"] = handle
                self.run_worker(w, 1)
                self.assertEqual(self.fake.tasks[t["id"]]["status"], status)
                self.assertEqual(self.ends(t["id"]), [outcome])

    def test_given_up_when_the_lease_expires(self):
        self.fake.lease_seconds = 1.5
        t = self.fake.add_task()
        self.answer_first(1000, 503, "unavailable", "the server is restarting")
        w = self.worker("complete")
        start = time.monotonic()
        with self.assertLogs("taskmodel.worker", "ERROR") as logs:
            self.run_worker(w, 1)
        took = time.monotonic() - start
        self.assertLess(took, 1.5 + 1.0)
        self.assertEqual(self.fake.tasks[t["id"]]["status"], "RUNNING")
        self.assertGreaterEqual(len(self.ends(t["id"])), 3)
        self.assertTrue(any("giving up" in line and "lease" in line for line in logs.output), logs.output)

    def test_refusals_not_retried(self):
        for code in (403, 404, 422):
            with self.subTest(code):
                t = self.fake.add_task()
                self.answer_first(1000, code, "refused", "no")
                self.run_worker(self.worker("complete"), 1)
                self.assertEqual(self.fake.tasks[t["id"]]["status"], "RUNNING")
                self.assertEqual(self.ends(t["id"]), ["complete"])

class FailureMessageTest(FakeTest):
    """A failure message is cut to what the server takes, and one the
    server still refuses is replaced by a short one: the task fails."""

    def setUp(self):
        super().setUp()
        logging.getLogger("taskmodel").setLevel(logging.CRITICAL)
        self.addCleanup(logging.getLogger("taskmodel").setLevel, logging.NOTSET)

    def fail_with(self, message, code=None):
        t = self.fake.add_task()
        w = Worker(self.client, models=["training"], wait_seconds=0, error_code="WORKER_ERROR")

        @w.handler("training")
        def handle(task):
            raise TaskFailed(code, message)
        self.run_worker(w, 1)
        return self.fake.tasks[t["id"]]

    def test_long_messages_keep_their_end(self):
        from taskmodel import worker as worker_module
        got = self.fail_with("Traceback: start\n" + "x" * 10000 + "\nValueError: the end")
        msg = got["error_message"]
        self.assertEqual(got["status"], "FAILED")
        self.assertEqual(len(msg), worker_module.MAX_MESSAGE)
        self.assertTrue(msg.startswith("Traceback: start\n"), msg[:40])
        self.assertTrue(msg.endswith("\nValueError: the end"), msg[-40:])
        self.assertIn(" … ", msg)
        # A limit raised past what the server takes (100,000 bytes of
        # UTF-8): the message is cut to fit it.
        self.addCleanup(setattr, worker_module, "MAX_MESSAGE", worker_module.MAX_MESSAGE)
        worker_module.MAX_MESSAGE = 1_000_000
        got = self.fail_with("start " + "\u00e9" * 80000 + " the end")
        msg = got["error_message"]
        self.assertEqual(got["status"], "FAILED")
        self.assertLessEqual(len(msg.encode("utf-8")), 100_000)
        self.assertGreater(len(msg.encode("utf-8")), 99_990)
        self.assertTrue(msg.startswith("start "), msg[:40])
        self.assertTrue(msg.endswith("\u00e9 the end"), msg[-40:])
        # Cut after surrogates are replaced and NUL characters removed.
        worker_module.MAX_MESSAGE = 10
        msg = self.fail_with("\x00\x00\udce9\udce9\udce9")["error_message"]
        self.assertEqual((len(msg), msg[:1], msg[1:4], msg[-6:]), (10, "\\", " … ", "e9\\xe9"))

    def test_refused_message_replaced(self):
        calls = []

        def on_end(action, body):
            calls.append(body.get("message"))
            if len(calls) == 1:
                return (400, "validation", "message: contains a character the server does not take")
        self.fake.on_end = on_end
        got = self.fail_with("out of memory", code="OUT_OF_MEMORY")
        self.assertEqual(got["status"], "FAILED")
        self.assertEqual(got["error_code"], "OUT_OF_MEMORY")
        self.assertEqual(got["error_message"], "the failure message could not be sent: the server refused it "
                         "(message: contains a character the server does not take); the worker's log has it")
        self.assertEqual(calls[0], "out of memory")

    def test_refused_every_time(self):
        calls = []

        def on_end(action, body):
            calls.append(body.get("message"))
            return (400, "validation", "message: no")
        self.fake.on_end = on_end
        got = self.fail_with("out of memory")
        self.assertEqual(got["status"], "RUNNING")
        self.assertEqual(len(calls), 2)


if __name__ == "__main__":
    unittest.main()
