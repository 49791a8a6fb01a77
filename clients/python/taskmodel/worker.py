"""A worker: claims tasks over the worker protocol and runs Python handlers.

    worker = Worker("http://127.0.0.1:8080", token, models=["training"])

    @worker.handler("training")
    def train(task):
        epochs = task.data["epochs"] or 1
        for epoch in range(epochs):
            ...
            task.progress(100 * (epoch + 1) / epochs)
        return {}            # the result fields the spec allows

    worker.run(concurrency=2)   # until stop() or SIGINT/SIGTERM
"""

from __future__ import annotations

import datetime
import http.client
import json
import logging
import math
import os
import re
import signal
import socket
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from . import text
from .client import Client
from .errors import LeaseLost, ProblemError, TaskmodelError

log = logging.getLogger("taskmodel.worker")

#: How long a failure message may be, in characters (the built-in models'
#: error_message; the server cuts a longer one to it the same way).
MAX_MESSAGE = 4000
#: How long a failure message may be, in bytes of UTF-8 (the server refuses
#: a longer one).
MAX_MESSAGE_BYTES = 100_000

#: The answers to an end report (complete, fail) that are retried, as a
#: server that cannot be reached is: the server may be restarting or
#: overloaded, or a proxy lost its answer. A retry with the same lease is
#: safe: once the first try was written, the server answers it as it did.
RETRIED_STATUSES = frozenset((408, 429, 500, 502, 503, 504))

#: What a request raises when the server cannot be reached or its answer
#: broke off: the client raises TaskmodelError for both (an answer cut
#: short, an http.client.HTTPException, included), an OSError for a
#: connection that failed mid-way; HTTPException is here for a Client whose
#: transport lets one through.
_UNREACHABLE = (TaskmodelError, OSError, http.client.HTTPException)


class TaskCancelled(Exception):
    """Raised in a handler at its next progress call once the task was
    cancelled (reason "cancelled") or the worker lost its lease (reason
    "lease lost": another worker may run the task now). The worker reports
    nothing more for the task."""

    def __init__(self, reason: str = "cancelled"):
        self.reason = reason
        super().__init__("the task was " + reason if reason == "cancelled" else reason)


class TaskFailed(Exception):
    """Raise it in a handler to fail the task with one of its model's error
    codes (None for a model without codes) and a message."""

    def __init__(self, code: Optional[str], message: str):
        self.code = None if code is None else str(getattr(code, "value", code))
        self.message = message
        super().__init__("%s: %s" % (self.code, message) if self.code else message)


class TaskContext:
    """What a handler gets: the claimed task and the ways to report on it.

    data is the task JSON (as GET /tasks/{id} returns it); id, task_type and
    lease are the claim's. cancelled turns true once the server said the task
    was cancelled (by a heartbeat or a progress reply), or the lease was
    lost.

    traceparent is the W3C trace context the task was created with, when the
    server traces (None otherwise): the task's trace. The worker sends it
    with the task's heartbeats, progress and end, so that the server's spans
    of them join that trace. A handler with a tracer of its own starts its
    span from it and sets traceparent to that span's: the reports are then
    traced under the handler's span.
    """

    def __init__(self, worker: "Worker", claim: Mapping[str, Any]):
        self._worker = worker
        self.claim: Dict[str, Any] = dict(claim)
        self.data: Dict[str, Any] = dict(claim.get("task") or {})
        self.id: str = str(claim["id"])
        self.task_type: str = str(claim.get("task_type") or self.data.get("task_type") or "")
        self.lease: str = str(claim["lease"])
        self.heartbeat_seconds: float = float(claim.get("heartbeat_seconds") or 10)
        self.traceparent: Optional[str] = claim.get("traceparent") or None
        #: The lease's expiry as the server last gave it (the claim's, then
        #: each heartbeat's and progress report's), RFC 3339.
        self.lease_expires_at: Optional[str] = None
        self._lease_deadline = time.monotonic() + 3 * self.heartbeat_seconds
        self._renewed(claim.get("lease_expires_at"))
        self._stop = threading.Event()
        self._reason = ""
        self._lock = threading.Lock()
        #: When the worker first saw the cancellation (time.monotonic()), or None.
        self.cancelled_at: Optional[float] = None

    @property
    def cancelled(self) -> bool:
        """Whether the task was cancelled (or its lease lost): stop working."""
        return self._stop.is_set()

    @property
    def stop_reason(self) -> str:
        """"cancelled", "lease lost", or "" while the task runs."""
        return self._reason

    def _renewed(self, expires_at: Any) -> None:
        """Notes the lease's expiry an answer of the server gave (None,
        once cancelled, or a time it cannot read: the last one stays)."""
        at = _parse_time(expires_at)
        if at is None:
            return
        self.lease_expires_at = str(expires_at)
        # On the monotonic clock, so that a change of the wall clock while
        # an end report is retried does not move the deadline.
        self._lease_deadline = time.monotonic() + (at - time.time())

    def _mark(self, reason: str) -> None:
        with self._lock:
            if not self._stop.is_set():
                self._reason = reason
                self.cancelled_at = time.monotonic()
                self._stop.set()

    def check(self) -> None:
        """Raises TaskCancelled if the task was cancelled or its lease lost."""
        if self._stop.is_set():
            raise TaskCancelled(self._reason)

    def wait(self, seconds: float) -> bool:
        """Sleeps up to seconds, waking early on cancellation; returns cancelled."""
        return self._stop.wait(seconds)

    def progress(self, percent: float, detail: Optional[Mapping[str, Any]] = None) -> None:
        """Reports progress (percent 0 to 100 and the model's progress_detail
        object); raises TaskCancelled if the task was cancelled or the lease
        lost, before or by this report. A report the server cannot take now
        (no answer, as while it restarts, or one of RETRIED_STATUSES) is
        dropped with a warning in the log, and the handler goes on: progress
        is advisory, the next report carries the newer percent, and the
        heartbeat keeps the lease meanwhile. The server's refusal of the
        report itself (a 400) is raised."""
        self.check()
        try:
            reply = self._worker.client.report_progress(self.id, self.lease, percent, detail, traceparent=self.traceparent)
        except LeaseLost:
            self._mark("lease lost")
            raise TaskCancelled("lease lost") from None
        except _UNREACHABLE as e:
            if not _retried(e):
                raise
            log.warning("task %s: progress report dropped, the server cannot take it now (%s); the work goes on", self.id, e)
            return
        self._renewed((reply or {}).get("lease_expires_at"))
        if (reply or {}).get("cancelled"):
            self._mark("cancelled")
        self.check()


Handler = Callable[[TaskContext], Optional[Mapping[str, Any]]]


class Worker:
    """Runs handlers for the tasks of some models, claimed with a worker
    token (`taskmodel token create --worker --models training`).

    client_or_url is a Client or the server's URL (then token is the worker
    token). models defaults to the models with a handler. name identifies the
    worker in the server's records (default host-pid). error_code is the code
    an unexpected exception fails a task with (None: none, for models without
    error codes). wait_seconds is the claim's long poll (0 to 30): stop()
    takes effect once the claim in flight returns.
    """

    def __init__(self, client_or_url: Union[Client, str], token: Optional[str] = None,
                 models: Optional[Sequence[str]] = None, name: Optional[str] = None,
                 error_code: Optional[str] = None, wait_seconds: int = 10,
                 heartbeat_interval: Optional[float] = None):
        self.client = client_or_url if isinstance(client_or_url, Client) else Client(client_or_url, token)
        self.models: List[str] = list(models or [])
        self.name = name or "%s-%d" % (socket.gethostname(), os.getpid())
        self.error_code = error_code
        if not 0 <= wait_seconds <= 30:
            raise ValueError("wait_seconds: must be between 0 and 30, not %r" % wait_seconds)
        self.wait_seconds = wait_seconds
        self.heartbeat_interval = heartbeat_interval
        self.handlers: Dict[str, Handler] = {}
        self._stop = threading.Event()
        self._active: Dict[str, TaskContext] = {}
        self._lock = threading.Lock()
        self._slots: Optional[threading.Semaphore] = None
        #: The first SystemExit or KeyboardInterrupt a handler raised since
        #: run started, which run raises again before it returns.
        self._exit: Optional[BaseException] = None

    def handler(self, task_type: str) -> Callable[[Handler], Handler]:
        """Decorates the function that runs tasks of a model. It gets a
        TaskContext and returns the result fields (a dict, or None for
        none); raising TaskFailed fails the task with its code, any other
        exception with the worker's error_code. A result that is not a dict,
        that holds a value JSON cannot write (a datetime, a set, NaN…: the
        message names its field), or that the server refuses (400), fails
        the task with the reason; sys.exit (SystemExit) fails the task with
        its status and stops the worker, and run raises it again once the
        running tasks have ended, so that the process exits with that
        status."""
        def register(fn: Handler) -> Handler:
            self.handlers[task_type] = fn
            if task_type not in self.models:
                self.models.append(task_type)
            return fn
        return register

    def stop(self) -> None:
        """Asks run to return: no more claims; running tasks finish first,
        and claimed tasks whose handler has not started are given back to
        the queue (Client.release), their claims not counted as attempts."""
        self._stop.set()

    @property
    def active(self) -> List[TaskContext]:
        """The tasks running now."""
        with self._lock:
            return list(self._active.values())

    def run(self, concurrency: int = 1, max_tasks: Optional[int] = None, handle_signals: bool = True) -> int:
        """Claims and runs tasks, concurrency at a time, until stop() (or
        SIGINT/SIGTERM, in the main thread with handle_signals), or until
        max_tasks tasks were claimed; waits for the running tasks, and returns
        how many it claimed to run. Tasks a claim returns after stop() are
        given back to the queue, not run (nor counted).

        A handler that called sys.exit(N) (or raised SystemExit or
        KeyboardInterrupt) has failed its task and stopped the worker: run
        raises that exception again, once the running tasks have ended, in
        place of returning, so that a worker script exits with status N as
        any Python script would (catch SystemExit around run to go on)."""
        if concurrency < 1:
            raise ValueError("concurrency: must be 1 or more, not %r" % concurrency)
        missing = [m for m in self.models if m not in self.handlers]
        if not self.models or missing:
            raise ValueError("models: every model needs a handler (@worker.handler(...)); without one: %s"
                             % (", ".join(missing) or "no models"))
        self._stop.clear()
        self._exit = None
        restore = self._install_signals() if handle_signals else {}
        slots = threading.Semaphore(concurrency)
        threads: List[threading.Thread] = []
        claimed = 0
        backoff = _Backoff()
        try:
            while not self._stop.is_set() and (max_tasks is None or claimed < max_tasks):
                slots.acquire()
                free = 1
                while free < concurrency and slots.acquire(blocking=False):
                    free += 1
                if max_tasks is not None:
                    extra = free - (max_tasks - claimed)
                    for _ in range(max(0, extra)):
                        slots.release()
                    free = min(free, max_tasks - claimed)
                if self._stop.is_set():
                    for _ in range(free):
                        slots.release()
                    break
                try:
                    claims = self.client.claim(self.models, limit=free, wait_seconds=self.wait_seconds, worker=self.name)
                    backoff.reset()
                except _UNREACHABLE as e:
                    for _ in range(free):
                        slots.release()
                    if isinstance(e, ProblemError) and e.status in (400, 401, 403, 404):
                        raise
                    wait = backoff.next()
                    log.warning("claim failed, retrying in %.1fs: %s", wait, e)
                    self._stop.wait(wait)
                    continue
                for _ in range(free - len(claims)):
                    slots.release()
                if self._stop.is_set():
                    # Stopped while the claim was in flight: the tasks are
                    # given back, not started.
                    for c in claims:
                        self._give_back(c, "the worker is stopping")
                        slots.release()
                    break
                for c in claims:
                    claimed += 1
                    t = threading.Thread(target=self._run_one, args=(c, slots), name="taskmodel-task-" + str(c.get("id")), daemon=True)
                    threads.append(t)
                    t.start()
                threads = [t for t in threads if t.is_alive()]
        finally:
            for t in threads:
                t.join()
            for sig, old in restore.items():
                signal.signal(sig, old)
        ended, self._exit = self._exit, None
        if ended is not None:
            raise ended
        return claimed

    def _install_signals(self) -> Dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, lambda *_: self.stop())
        return old

    def _give_back(self, claim: Mapping[str, Any], reason: str) -> None:
        """Releases a claimed task that no handler started: it goes back to
        the queue at once, and the claim is not counted as an attempt. A
        release that fails leaves the task to its lease's expiry."""
        try:
            self.client.release(str(claim["id"]), str(claim["lease"]), reason, traceparent=claim.get("traceparent") or None)
            log.info("task %s given back to the queue: %s", claim.get("id"), reason)
        except _UNREACHABLE as e:
            log.warning("task %s: giving it back failed (%s); it goes back to the queue when its lease expires", claim.get("id"), e)

    def _run_one(self, claim: Mapping[str, Any], slots: threading.Semaphore) -> None:
        if self._stop.is_set():
            # Stopped before this task's handler started: given back.
            try:
                self._give_back(claim, "the worker is stopping")
            finally:
                slots.release()
            return
        try:
            self._execute(TaskContext(self, claim))
        except Exception:  # a report that failed: logged, the lease runs out
            log.exception("task %s: reporting its end failed", claim.get("id"))
        finally:
            slots.release()

    def _execute(self, ctx: TaskContext) -> None:
        with self._lock:
            self._active[ctx.id] = ctx
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(ctx, done), name="taskmodel-heartbeat-" + ctx.id, daemon=True)
        beat.start()
        try:
            fn = self.handlers[ctx.task_type]
            try:
                result = fn(ctx)
            except TaskCancelled as e:
                log.info("task %s stopped: %s", ctx.id, e.reason)
                return
            except TaskFailed as e:
                done.set()
                self._fail(ctx, e.code, e.message)
                return
            except Exception as e:  # the handler's bug or its input's: the task fails
                done.set()
                msg = _describe(e)
                log.error("task %s failed: %s\n%s", ctx.id, msg, traceback.format_exc())
                self._fail(ctx, self.error_code, msg)
                return
            except (SystemExit, KeyboardInterrupt) as e:
                # The handler asked the process to end: its task fails, and
                # the worker stops claiming (run returns once the running
                # tasks end).
                done.set()
                msg = _exit_message(e)
                log.error("task %s failed: %s; the worker stops", ctx.id, msg)
                with self._lock:
                    if self._exit is None:
                        self._exit = e
                self.stop()
                self._fail(ctx, self.error_code, msg)
                return
            # The heartbeats stop once the handler has returned: the end is
            # reported (and retried) within the lease as last renewed.
            done.set()
            if ctx.cancelled:
                log.info("task %s was %s; its result is dropped", ctx.id, ctx.stop_reason)
                return
            if result is not None and not isinstance(result, Mapping):
                msg = "the handler returned %s, not a dict of result fields (or None for none)" % type(result).__name__
                log.error("task %s failed: %s", ctx.id, msg)
                self._fail(ctx, self.error_code, msg)
                return
            bad = _not_json(result)
            if bad:
                # It could not be sent: the task fails now rather than
                # stay RUNNING until its lease expires, and run again.
                msg = "the handler's result cannot be sent: %s" % bad
                log.error("task %s failed: %s", ctx.id, msg)
                self._fail(ctx, self.error_code, msg)
                return
            try:
                self._end(ctx, lambda: self._report(ctx, "completion", lambda: self.client.complete(ctx.id, ctx.lease, result, traceparent=ctx.traceparent)))
            except ProblemError as e:
                if e.status != 400:
                    raise
                # The server refused the result: retrying cannot help.
                msg = "the server refused the handler's result: %s" % (e.detail or e.title)
                log.error("task %s failed: %s", ctx.id, msg)
                self._fail(ctx, self.error_code, msg)
        finally:
            done.set()
            beat.join()
            with self._lock:
                self._active.pop(ctx.id, None)

    def _fail(self, ctx: TaskContext, code: Optional[str], message: str) -> None:
        message = _text(message)

        def report() -> None:
            msg, cur, generic = message, code, False
            while True:
                try:
                    self._report(ctx, "failure", lambda: self.client.fail(ctx.id, ctx.lease, _clip(msg), cur, traceparent=ctx.traceparent))
                    return
                except ProblemError as e:
                    if e.status != 400 or isinstance(e, LeaseLost):
                        raise
                    if e.field == "error_code" and cur is not None:
                        # A code the model does not know: the task fails
                        # anyway, without it, rather than wait for its lease
                        # to run out.
                        log.error("task %s: error code %s refused (%s); failing it without a code", ctx.id, cur, e.detail)
                        msg, cur = "%s: %s" % (cur, msg), None
                        continue
                    if generic:
                        raise
                    # The message refused (too long, text the server does
                    # not take): a short one says so, so that the task
                    # fails rather than wait for its lease to run out.
                    why = _clip(e.detail or e.title, 500)
                    log.error("task %s: the server refused its failure message (%s); failing it with a short one. "
                              "The message was: %s", ctx.id, why, _clip(message))
                    msg, generic = ("the failure message could not be sent: the server refused it (%s); "
                                    "the worker's log has it" % why), True
        self._end(ctx, report)

    def _report(self, ctx: TaskContext, what: str, call: Callable[[], Any]) -> Any:
        """Sends an end report (what: "completion" or "failure"), retried
        with backoff while the server cannot be reached or answers one of
        RETRIED_STATUSES, until the lease expires (as the server last gave
        it); then gives up with a log line, and returns None. Other errors
        are raised."""
        backoff = _Backoff()
        tries = 0
        first = time.monotonic()
        while True:
            tries += 1
            try:
                return call()
            except _UNREACHABLE as e:
                if not _retried(e):
                    raise
                left = ctx._lease_deadline - time.monotonic()
                if left <= 0:
                    log.error("task %s: reporting its %s failed %d times in %.1fs, the last: %s; giving up: its lease "
                              "expired (at %s), so the server will queue the task again and its work may run again",
                              ctx.id, what, tries, time.monotonic() - first, e, ctx.lease_expires_at or "unknown")
                    return None
                wait = min(backoff.next(), left)
                log.warning("task %s: reporting its %s failed, retrying in %.1fs (its lease holds for %.1fs more): %s",
                            ctx.id, what, wait, left, e)
                time.sleep(wait)

    def _end(self, ctx: TaskContext, report: Callable[[], Any]) -> None:
        try:
            report()
        except LeaseLost:
            log.warning("task %s: the lease was lost before its end was reported", ctx.id)
        except ProblemError as e:
            if e.status == 409 and ctx.cancelled:
                return
            if e.status == 409:
                log.warning("task %s: its end was refused: %s", ctx.id, e)
                return
            raise

    def _heartbeat(self, ctx: TaskContext, done: threading.Event) -> None:
        interval = self.heartbeat_interval or max(0.2, ctx.heartbeat_seconds)
        while not done.wait(interval):
            if ctx.cancelled:
                return
            try:
                reply = self.client.heartbeat(ctx.id, ctx.lease, traceparent=ctx.traceparent)
            except LeaseLost:
                ctx._mark("lease lost")
                return
            except _UNREACHABLE as e:
                log.warning("task %s: heartbeat failed: %s", ctx.id, e)
                continue
            except Exception:  # the next heartbeat tries again: the thread must not end
                log.exception("task %s: heartbeat failed", ctx.id)
                continue
            ctx._renewed((reply or {}).get("lease_expires_at"))
            if (reply or {}).get("cancelled"):
                ctx._mark("cancelled")
                return


class _Backoff:
    """The waits between the retries of a claim or an end report: first
    seconds, doubled at each retry up to cap."""

    def __init__(self, first: float = 0.5, cap: float = 30.0):
        self.first = first
        self.cap = cap
        self.delay = first

    def next(self) -> float:
        d = self.delay
        self.delay = min(self.delay * 2, self.cap)
        return d

    def reset(self) -> None:
        self.delay = self.first


def _retried(e: BaseException) -> bool:
    """Whether an end report that raised e is retried: the server could not
    be reached (or its answer was cut), or it answered a RETRIED_STATUSES."""
    if isinstance(e, ProblemError):
        return e.status in RETRIED_STATUSES
    return isinstance(e, _UNREACHABLE)


_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", re.IGNORECASE)


def _parse_time(s: Any) -> Optional[float]:
    """An RFC 3339 time (as the server writes it, up to nanoseconds) as a
    Unix time, or None."""
    m = _RFC3339.match(str(s or "").strip())
    if not m:
        return None
    zone = "+00:00" if m.group(3).upper() == "Z" else m.group(3)
    frac = (m.group(2) or "")[:6].ljust(6, "0")
    try:
        return datetime.datetime.fromisoformat("%s.%s%s" % (m.group(1), frac, zone)).timestamp()
    except ValueError:
        return None


def _text(value: Any) -> str:
    """str(value); its repr when str fails; a sentence saying so when both
    fail. Never raises: a failure message must always be made."""
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except Exception:
        pass
    try:
        return repr(value)
    except Exception:
        return "a %s that cannot be written as text" % type(value).__name__


def _describe(e: BaseException) -> str:
    """The failure message of an exception a handler raised: "Type: its
    text" ("Type" alone when it has none); an exception whose text cannot
    be made (its __str__ raises) is described by its repr, or by its type
    alone when that fails too."""
    name = type(e).__name__
    try:
        said = str(e)
    except Exception:
        try:
            return "%s: %s (its message could not be made: str() failed on it; this is its repr())" % (name, repr(e))
        except Exception:
            return "%s (its message could not be made: both str() and repr() failed on it; the worker's log has its traceback)" % name
    return "%s: %s" % (name, said) if said else name


def _not_json(result: Any) -> Optional[str]:
    """Why the result fields cannot be sent as JSON (naming the first field
    that is not, e.g. "result.started: a datetime is not a JSON value"), or
    None when they can."""
    if result is None:
        return None
    try:
        json.dumps(text.sanitize(dict(result)), allow_nan=False)
        return None
    except Exception as e:  # RecursionError too: the walk below says where
        failure = e
    try:
        bad = _not_json_at(result if isinstance(result, dict) else dict(result), "result", set())
    except RecursionError:
        return "result: it is nested too deeply to be written as JSON"
    if bad:
        return bad
    return "result: it cannot be written as JSON (%s)" % _text(failure)


#: A result holds only these (and the dicts, lists and tuples of them).
_JSON_HINT = "a result holds only strings, numbers, booleans, None, lists and dicts"


def _not_json_at(value: Any, where: str, seen: set) -> Optional[str]:
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "%s: %r is not a JSON value (JSON has no NaN or infinity)" % (where, value)
        return None
    if isinstance(value, (dict, list, tuple)):
        if id(value) in seen:
            return "%s: refers back to a value that holds it (a circular reference), which JSON cannot write" % where
        seen.add(id(value))
        try:
            if isinstance(value, dict):
                for k, v in value.items():
                    if k is not None and not isinstance(k, (str, int, float, bool)):
                        return "%s: the key %s is %s, not a string: JSON keys are strings" % (where, _text(k), _a(k))
                    bad = _not_json_at(v, "%s.%s" % (where, _key(k)), seen)
                    if bad:
                        return bad
            else:
                for i, v in enumerate(value):
                    bad = _not_json_at(v, "%s[%d]" % (where, i), seen)
                    if bad:
                        return bad
        finally:
            seen.discard(id(value))
        return None
    return "%s: %s is not a JSON value; %s" % (where, _a(value), _JSON_HINT)


def _key(k: Any) -> str:
    """A dict key as JSON writes it."""
    if isinstance(k, str):
        return k
    return json.dumps(k) if not isinstance(k, float) or math.isfinite(k) else repr(k)


def _a(value: Any) -> str:
    """"a datetime", "an int64", "a numpy.int64"…: what value is."""
    cls = type(value)
    name = cls.__name__ if cls.__module__ in ("builtins", "datetime", "decimal", "fractions", "uuid", "pathlib") \
        else "%s.%s" % (cls.__module__.split(".")[0], cls.__name__)
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def _exit_message(e: BaseException) -> str:
    if isinstance(e, KeyboardInterrupt):
        return "the handler was interrupted (KeyboardInterrupt)"
    code = e.code if isinstance(e, SystemExit) else None
    if code is None or isinstance(code, int):
        return "the handler exited with status %d" % (code or 0)
    return "the handler exited: %s" % _text(code)


def _clip(msg: str, limit: Optional[int] = None) -> str:
    """A failure message as the server takes it: lone surrogates replaced,
    NUL characters removed (text.message), and, when longer than limit
    characters (MAX_MESSAGE) or MAX_MESSAGE_BYTES bytes of UTF-8, cut in the
    middle: its first quarter and its end are kept (an error's last lines
    usually say the most), joined by " … "."""
    msg = text.message(msg) or "failed"
    chars = MAX_MESSAGE if limit is None else limit
    size = len(msg.encode("utf-8"))
    if len(msg) <= chars and size <= MAX_MESSAGE_BYTES:
        return msg
    mark = " … "
    chars -= len(mark)
    size = MAX_MESSAGE_BYTES - len(mark.encode("utf-8"))
    head = _head(msg, chars // 4, size // 4)
    tail = _tail(msg, chars - len(head), size - len(head.encode("utf-8")))
    return head + mark + tail


def _head(s: str, chars: int, size: int) -> str:
    """The start of s: at most chars characters and size bytes of UTF-8."""
    return s[:max(chars, 0)].encode("utf-8")[:max(size, 0)].decode("utf-8", "ignore")


def _tail(s: str, chars: int, size: int) -> str:
    """The end of s: at most chars characters and size bytes of UTF-8."""
    if chars <= 0 or size <= 0:
        return ""
    b = s[-chars:].encode("utf-8")
    return b[max(len(b) - size, 0):].decode("utf-8", "ignore")
