"""The client of the task API (GET/POST /tasks…) and of the worker protocol."""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Collection, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from . import sse, text
from .errors import ProblemError, StreamUnauthorized, TaskmodelError
from .models import MODELS
from .transport import DEFAULT_TIMEOUT, Transport, broken_answer, iter_chunks, problem_of

Task = Dict[str, Any]
StrOrList = Union[str, Sequence[str], None]


def _quote(task_id: str) -> str:
    task_id = str(task_id)
    if not task_id or "/" in task_id or "?" in task_id or "#" in task_id:
        raise ValueError("task_id: must be a task id (a UUID), not %r" % task_id)
    return task_id


def is_terminal(task: Mapping[str, Any]) -> bool:
    """Reports whether a task (as the API returns it) is finished, by its
    model's generated module (taskmodel.models). A model this package does
    not know raises ValueError."""
    mod = MODELS.get(task.get("task_type", ""))
    if mod is None:
        raise ValueError("task_type %r: not a model this package knows (known: %s)"
                         % (task.get("task_type"), ", ".join(sorted(MODELS))))
    return mod.is_terminal(task.get("status"))


class Client:
    """A client of one taskmodel server.

    url is the server's base URL (http://127.0.0.1:8080); token a bearer
    token from `taskmodel token create` (None for a server that allows
    anonymous access). Every method raises ProblemError (with the server's
    problem+json: type, title, detail, status, field) on an error answer,
    and TaskmodelError when the server cannot be reached or its answer
    breaks off (the connection is lost before the whole answer came).
    """

    def __init__(self, url: str, token: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT):
        self.transport = Transport(url, token, timeout)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self.transport.url

    # The task API.

    def create(self, task_type: str, fields: Optional[Mapping[str, Any]] = None, *,
               traceparent: Optional[str] = None, **more: Any) -> Task:
        """Creates a task of a model (POST /tasks) with the fields its spec's
        api create list allows, given as a mapping or keywords; returns it.
        traceparent, a W3C trace context (the caller's span), makes the task's
        trace continue the caller's when the server traces."""
        body: Dict[str, Any] = {"task_type": task_type}
        body.update(fields or {})
        body.update(more)
        return self.transport.call("POST", "/tasks", body, traceparent=traceparent)

    def get(self, task_id: str) -> Task:
        """The task (GET /tasks/{id}): its fields, status, progress, timestamps."""
        return self.transport.call("GET", "/tasks/" + _quote(task_id))

    def list(self, task_type: StrOrList = None, status: StrOrList = None, tag: Optional[str] = None,
             limit: Optional[int] = None, offset: Optional[int] = None,
             within_hours: Optional[int] = None) -> List[Dict[str, Any]]:
        """The unified listing (GET /tasks), newest first: rows of id,
        task_type, task_status (Q, R, D, F, C), tag, created_at, end_date.

        task_type and status (status codes) take one value or several; the
        server's defaults are limit 20 (1 to 100), offset 0 and within_hours
        1 (the last hour); values out of range are errors, never clamped.
        """
        query = [
            ("task_type", _many(task_type)), ("status", _many(status)), ("tag", tag),
            ("limit", limit), ("offset", offset), ("within_hours", within_hours),
        ]
        return self.transport.call("GET", "/tasks", query=query)

    def history(self, task_id: str) -> List[Dict[str, Any]]:
        """The task's status changes, oldest first (GET /tasks/{id}/history)."""
        return self.transport.call("GET", "/tasks/" + _quote(task_id) + "/history")

    def cancel(self, task_id: str) -> Task:
        """Cancels the task (POST /tasks/{id}/cancel) and returns it; a task
        that can no longer be cancelled raises ProblemError 409 with its
        current_status."""
        return self.transport.call("POST", "/tasks/" + _quote(task_id) + "/cancel")

    def upload_urls(self, task_id: str, files: Mapping[str, Mapping[str, Any]], **flags: bool) -> Dict[str, Any]:
        """Signed upload URLs for a task's files (POST /tasks/{id}/upload-urls):
        files maps each file of the model (UPLOAD_FILES of its module) to
        {"filename", "content_type", "size"}; flags are the model's optional
        files. Returns {"task_id", "status", "uploads": {file: target}}."""
        body: Dict[str, Any] = {"files": {k: dict(v) for k, v in files.items()}}
        body.update(flags)
        return self.transport.call("POST", "/tasks/" + _quote(task_id) + "/upload-urls", body)

    def upload(self, target: Mapping[str, Any], data: bytes) -> None:
        """Uploads data to one signed target of upload_urls (its method, URL
        and headers; no bearer token: the URL is the grant)."""
        req = urllib.request.Request(str(target["url"]), data=data, method=str(target.get("method") or "PUT"),
                                     headers=dict(target.get("headers") or {}))
        method, path = req.get_method(), urllib.parse.urlsplit(req.full_url).path
        try:
            try:
                with urllib.request.urlopen(req, timeout=self.transport.timeout) as resp:
                    resp.read()
            except urllib.error.HTTPError as e:
                with e:
                    raise problem_of(e.code, e.read(), method, path) from None
        except http.client.HTTPException as e:
            if isinstance(e, OSError):
                raise
            raise broken_answer(e, method, path, "%s://%s" % urllib.parse.urlsplit(req.full_url)[:2]) from e

    def process(self, task_id: str) -> Task:
        """Verifies a task's uploads and queues it (POST /tasks/{id}/process)."""
        return self.transport.call("POST", "/tasks/" + _quote(task_id) + "/process")

    def wait(self, task_id: str, timeout: Optional[float] = None, interval: Optional[float] = None,
             terminal: Optional[Collection[str]] = None) -> Task:
        """Polls the task until its status is terminal and returns it.

        The interval is the spec's poll interval of the task's current status
        (POLL_INTERVALS of its model's module), else interval, else 1 s.
        terminal overrides the model's terminal statuses (needed for a model
        this package does not know). timeout (seconds) raises TimeoutError.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            task = self.get(task_id)
            mod = MODELS.get(task.get("task_type", ""))
            done = task.get("status") in terminal if terminal is not None else is_terminal(task)
            if done:
                return task
            pause = interval
            if pause is None:
                pause = mod.POLL_INTERVALS.get(task.get("status"), 1.0) if mod else 1.0
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("task %s is still %s after %gs" % (task_id, task.get("status"), timeout))
                pause = min(pause, left)
            time.sleep(pause)

    def follow(self, task_id: str, timeout: Optional[float] = None, reconnect: int = 3) -> Iterator[Task]:
        """Yields the task at every change, from its current state, by the
        server's event stream (GET /tasks/{id}/events), until a terminal
        status ends the stream.

        A dropped connection is reopened after the stream's retry delay, at
        most reconnect times without a new change (the stream starts again from the
        current state; versions already seen are not repeated). A revoked
        token raises StreamUnauthorized; a task that can no longer be
        followed (deleted, or moved by a newer server version to a status
        this one does not know) raises ProblemError, as GET would. timeout bounds the wait for each
        read (the server sends a keep-alive comment when idle).
        """
        path = "/tasks/" + _quote(task_id) + "/events"
        seen = -1
        retry = 2.0
        failures = 0
        known = True
        while True:
            finished = False
            try:
                with self.transport.open("GET", path, timeout=timeout, accept="text/event-stream") as resp:
                    for ev in sse.parse(sse.split_lines(iter_chunks(resp, method="GET", path=path, url=self.url))):
                        if ev.retry is not None:
                            retry = ev.retry / 1000.0
                        if ev.event == "unauthorized":
                            raise StreamUnauthorized(_detail(ev.data))
                        if ev.event == "problem":
                            # The task can no longer be followed (deleted, or
                            # moved by a newer server to a status this one
                            # does not know): the problem GET would answer.
                            raise ProblemError(0, _problem(ev.data), "GET", path)
                        if ev.event != "task":
                            continue
                        task = json.loads(ev.data)
                        version = task.get("version")
                        if isinstance(version, int):
                            if version <= seen:
                                continue
                            seen = version
                        failures = 0
                        known = task.get("task_type") in MODELS
                        finished = known and is_terminal(task)
                        yield task
                # The server ends the stream after a terminal status; for a
                # model this package does not know, any end is taken as one.
                if finished or not known:
                    return
                raise TaskmodelError("the stream ended before a terminal status")
            except (OSError, socket.timeout, TaskmodelError) as e:
                if isinstance(e, (ProblemError, StreamUnauthorized)) or finished:
                    raise
                failures += 1
                if failures > reconnect:
                    raise TaskmodelError("the event stream of task %s failed %d times: %s" % (task_id, failures, e)) from e
                time.sleep(retry)

    # The worker protocol (a worker token).

    def claim(self, models: Sequence[str], limit: int = 1, wait_seconds: int = 0,
              worker: Optional[str] = None) -> List[Dict[str, Any]]:
        """Claims up to limit (1 to 100) queued tasks of the models (POST
        /worker/claim), waiting up to wait_seconds (0 to 30) for one; returns
        the claims: task_type, id, lease, lease_expires_at,
        heartbeat_seconds, task (the task JSON) and, when the server traces,
        traceparent (the W3C trace context the task was created with)."""
        body: Dict[str, Any] = {"models": list(models), "limit": limit, "wait_seconds": wait_seconds}
        if worker:
            body["worker"] = worker
        out = self.transport.call("POST", "/worker/claim", body, timeout=self.transport.timeout + wait_seconds)
        return list((out or {}).get("tasks") or [])

    def heartbeat(self, task_id: str, lease: str, traceparent: Optional[str] = None) -> Dict[str, Any]:
        """Extends the lease; returns {"cancelled": bool, "lease_expires_at": …}.
        A lost lease raises LeaseLost. traceparent (here and in the other
        reports) is the worker's span: the server traces the report under it."""
        return self.transport.call("POST", "/worker/tasks/" + _quote(task_id) + "/heartbeat", {"lease": lease}, traceparent=traceparent)

    def report_progress(self, task_id: str, lease: str, percent: float,
                        detail: Optional[Mapping[str, Any]] = None, traceparent: Optional[str] = None) -> Dict[str, Any]:
        """Records progress, percent 0 to 100 and the model's progress_detail
        object (and extends the lease); returns {"cancelled": bool, …}."""
        body: Dict[str, Any] = {"lease": lease, "percent": percent}
        if detail is not None:
            body["detail"] = dict(detail)
        return self.transport.call("POST", "/worker/tasks/" + _quote(task_id) + "/progress", body, traceparent=traceparent)

    def complete(self, task_id: str, lease: str, result: Optional[Mapping[str, Any]] = None,
                 traceparent: Optional[str] = None) -> Task:
        """Completes the task with the result fields its spec allows; returns it."""
        body: Dict[str, Any] = {"lease": lease}
        if result:
            body["result"] = dict(result)
        return self.transport.call("POST", "/worker/tasks/" + _quote(task_id) + "/complete", body, traceparent=traceparent)

    def fail(self, task_id: str, lease: str, message: str, error_code: Optional[str] = None,
             traceparent: Optional[str] = None) -> Task:
        """Fails the task with a message and, for a model with error codes,
        one of its codes; returns it. The message's NUL characters are
        removed (the server refuses them) and its lone surrogates replaced
        (see taskmodel.text); it is sent whole otherwise (the server takes
        at most 100,000 bytes)."""
        body: Dict[str, Any] = {"lease": lease, "message": text.message(message)}
        if error_code is not None:
            body["error_code"] = str(getattr(error_code, "value", error_code))
        return self.transport.call("POST", "/worker/tasks/" + _quote(task_id) + "/fail", body, traceparent=traceparent)

    def release(self, task_id: str, lease: str, message: Optional[str] = None,
                traceparent: Optional[str] = None) -> Task:
        """Gives back a task the worker claimed but has not started (it
        cannot run it, or it is stopping): the server moves it back to the
        queue at once, for any worker to claim, and the claim does not count
        as an attempt. message (at most 1000 bytes) says why, in the task's
        history. Returns the task, queued. A lease that no longer holds the
        task (released already, expired and taken over, the task ended)
        raises LeaseLost; a model without a requeue event refuses it (409
        ProblemError): complete or fail the task instead."""
        body: Dict[str, Any] = {"lease": lease}
        if message:
            body["message"] = text.message(message)
        return self.transport.call("POST", "/worker/tasks/" + _quote(task_id) + "/release", body, traceparent=traceparent)


def _many(v: StrOrList) -> Optional[List[str]]:
    if v is None:
        return None
    if isinstance(v, str):
        return [v]
    return [str(getattr(x, "value", x)) for x in v]


def _problem(data: str) -> Dict[str, Any]:
    try:
        d = json.loads(data)
        if isinstance(d, dict):
            return d
    except ValueError:
        pass
    return {"detail": data}


def _detail(data: str) -> str:
    try:
        d = json.loads(data)
        if isinstance(d, dict):
            return str(d.get("detail") or "")
    except ValueError:
        pass
    return data
