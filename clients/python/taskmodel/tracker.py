"""Pipeline tracking over HTTP (/pipelines/…), with the R tasker package's
function names and meanings.

    from taskmodel import tracker
    run = tracker.task_start("STATIC", "Build Database", total_subtasks=2)
    tracker.subtask_start(run, 1, "Loading data", items_total=56)
    tracker.subtask_increment(run, 1)
    tracker.subtask_complete(run, 1)
    ...
    tracker.task_complete(run, "done")

The module-level functions use a default Tracker made from the environment:
TASKMODEL_URL (the server) and TASKMODEL_TOKEN (a user token; none for a
server that allows anonymous access). Stages and tasks must be registered
first (register(), or `taskmodel pipeline register FILE`).
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence

from . import text
from .transport import DEFAULT_TIMEOUT, Transport

Run = Dict[str, Any]

#: The statuses task_update takes, as tasker's task_update does (and
#: taskmodel run update: SKIPPED and CANCELLED finish the run too).
RUN_UPDATE_STATUSES = ("RUNNING", "COMPLETED", "FAILED", "SKIPPED", "CANCELLED")
#: The statuses subtask_update takes.
SUBTASK_UPDATE_STATUSES = ("RUNNING", "COMPLETED", "FAILED")


def _id(run_id: Any) -> str:
    if isinstance(run_id, Mapping):
        run_id = run_id.get("id") or run_id.get("run_id")
    s = str(run_id or "")
    if not s or "/" in s or "?" in s or "#" in s:
        raise ValueError("run_id: must be a run id (a UUID, as task_start returns), not %r" % (run_id,))
    return s


def _num(n: Any) -> str:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError("subtask_number: must be an integer of at least 1, not %r" % (n,))
    return str(n)


#: The fields of free text, whose NUL characters are removed (the server
#: refuses them).
_MESSAGES = ("message", "error_message", "detail")


def _body(**fields: Any) -> Dict[str, Any]:
    return {k: text.message(v) if k in _MESSAGES else v for k, v in fields.items() if v is not None}


class Tracker:
    """Reports and reads pipeline runs on one taskmodel server.

    Every method raises ProblemError on an error answer: an unknown stage,
    task or run is a 404 listing what exists; a refused lifecycle move a 409
    with current_status; bad input a 400 naming the field.
    """

    def __init__(self, url: str, token: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT):
        self.transport = Transport(url, token, timeout)

    def _post(self, path: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        return self.transport.call("POST", "/pipelines" + path, dict(body or {}))

    def _get(self, path: str, query: Optional[Mapping[str, Any]] = None) -> Any:
        return self.transport.call("GET", "/pipelines" + path, query=query)

    # Registry.

    def register(self, stages: Sequence[Mapping[str, Any]] = (), tasks: Sequence[Mapping[str, Any]] = ()) -> List[Dict[str, Any]]:
        """Registers stages ({name, order, description}) and tasks ({stage,
        name, type, order, script_path, script_filename, log_path,
        log_filename}); idempotent. Returns every stage with its tasks."""
        return self._post("/stages", _body(stages=list(stages) or None, tasks=list(tasks) or None))

    def get_stages(self) -> List[Dict[str, Any]]:
        """The registered stages with their tasks, in order."""
        return self._get("/stages")

    # Runs.

    def task_start(self, stage: str, task: str, total_subtasks: Optional[int] = None,
                   message: Optional[str] = None, host: Optional[str] = None, pid: Optional[int] = None,
                   user: Optional[str] = None, code_version: Optional[str] = None,
                   git_commit: Optional[str] = None, environment: Optional[Mapping[str, str]] = None,
                   **more: Any) -> str:
        """Starts a run of a registered task and returns its run id. host and
        pid default to this process's; user to the token's user; nothing
        of the environment is recorded unless given."""
        body = _body(stage=stage, task=task, total_subtasks=total_subtasks, message=message,
                     host=host or socket.gethostname(), pid=pid or os.getpid(), user=user,
                     code_version=code_version, git_commit=git_commit,
                     environment=dict(environment) if environment else None, **more)
        return self._post("/runs", body)["id"]

    def task_update(self, run_id: Any, status: str = "RUNNING", percent: Optional[float] = None,
                    message: Optional[str] = None, error_message: Optional[str] = None) -> Run:
        """Reports progress on a run (percent 0 to 100, message); as tasker's,
        a status of COMPLETED completes the run and FAILED fails it (with
        error_message, or message); SKIPPED skips it and CANCELLED cancels
        it, as task_skip and task_cancel. Returns the run."""
        s = str(status or "RUNNING").upper()
        if s not in RUN_UPDATE_STATUSES:
            raise ValueError("status: must be one of %s, not %r" % (", ".join(RUN_UPDATE_STATUSES), status))
        if s != "RUNNING" and percent is not None:
            raise ValueError("percent: goes with status RUNNING only, not %s" % s)
        if s == "COMPLETED":
            return self.task_complete(run_id, message)
        if s == "FAILED":
            return self.task_fail(run_id, error_message or message or "")
        if s == "SKIPPED":
            return self.task_skip(run_id, message)
        if s == "CANCELLED":
            return self.task_cancel(run_id, message)
        return self._post("/runs/%s/update" % _id(run_id), _body(percent=percent, message=message))

    def task_complete(self, run_id: Any, message: Optional[str] = None, force: bool = False) -> Run:
        """Completes a run. Refused (409) while a subtask is unfinished or a
        declared one never started, unless force (which cancels them)."""
        return self._post("/runs/%s/complete" % _id(run_id), _body(message=message, force=force or None))

    def task_fail(self, run_id: Any, message: str, detail: Optional[str] = None) -> Run:
        """Fails a run with an error message; its unfinished subtasks fail too."""
        return self._post("/runs/%s/fail" % _id(run_id), _body(message=message, detail=detail))

    def task_skip(self, run_id: Any, message: Optional[str] = None) -> Run:
        """Skips a run that is STARTED (it found nothing to do); its
        unfinished subtasks are skipped too. A RUNNING run is refused (409)."""
        return self._post("/runs/%s/skip" % _id(run_id), _body(message=message))

    def task_cancel(self, run_id: Any, message: Optional[str] = None) -> Run:
        """Cancels a run that has not finished; its unfinished subtasks are
        cancelled too."""
        return self._post("/runs/%s/cancel" % _id(run_id), _body(message=message))

    # Subtasks.

    def subtask_start(self, run_id: Any, subtask_number: int, name: str,
                      items_total: Optional[int] = None, message: Optional[str] = None) -> Dict[str, Any]:
        """Starts subtask subtask_number (at most the run's total_subtasks,
        once per run) with a name and, optionally, how many items it has."""
        return self._post("/runs/%s/subtasks/%s/start" % (_id(run_id), _num(subtask_number)),
                          _body(name=name, items_total=items_total, message=message))

    def subtask_update(self, run_id: Any, subtask_number: int, status: str = "RUNNING",
                       percent: Optional[float] = None, items_complete: Optional[int] = None,
                       items_total: Optional[int] = None, message: Optional[str] = None) -> Dict[str, Any]:
        """Reports a subtask's progress; COMPLETED completes it and FAILED
        fails it (message is the error), as tasker's subtask_update."""
        s = str(status or "RUNNING").upper()
        if s not in SUBTASK_UPDATE_STATUSES:
            raise ValueError("status: must be one of %s, not %r" % (", ".join(SUBTASK_UPDATE_STATUSES), status))
        if s != "RUNNING" and (percent is not None or items_complete is not None or items_total is not None):
            raise ValueError("percent, items_complete and items_total go with status RUNNING only, not %s" % s)
        if s == "COMPLETED":
            return self.subtask_complete(run_id, subtask_number, message)
        if s == "FAILED":
            return self.subtask_fail(run_id, subtask_number, message or "")
        return self._post("/runs/%s/subtasks/%s/update" % (_id(run_id), _num(subtask_number)),
                          _body(percent=percent, items_complete=items_complete, items_total=items_total, message=message))

    def subtask_increment(self, run_id: Any, subtask_number: int, by: int = 1) -> Dict[str, Any]:
        """Adds by (default 1) completed items to a subtask, atomically: safe
        from parallel workers."""
        return self._post("/runs/%s/subtasks/%s/increment" % (_id(run_id), _num(subtask_number)), {"by": by})

    def subtask_complete(self, run_id: Any, subtask_number: int, message: Optional[str] = None) -> Dict[str, Any]:
        """Completes a subtask."""
        return self._post("/runs/%s/subtasks/%s/complete" % (_id(run_id), _num(subtask_number)), _body(message=message))

    def subtask_fail(self, run_id: Any, subtask_number: int, message: str) -> Dict[str, Any]:
        """Fails a subtask with an error message."""
        return self._post("/runs/%s/subtasks/%s/fail" % (_id(run_id), _num(subtask_number)), _body(message=message))

    # Reading.

    def get_task_status(self, stage: Optional[str] = None) -> List[Dict[str, Any]]:
        """Every registered task (of a stage) with its latest run, status and percent."""
        return self._get("/status", _body(stage=stage))

    def get_active_tasks(self) -> List[Run]:
        """Runs that are STARTED or RUNNING, oldest first."""
        return self._get("/active")

    def get_task_history(self, stage: Optional[str] = None, task: Optional[str] = None,
                         limit: Optional[int] = None) -> List[Run]:
        """Runs, newest first, of a stage and task if given (limit: the server's default 50)."""
        return self._get("/history", _body(stage=stage, task=task, limit=limit))

    def get_subtask_progress(self, run_id: Any) -> List[Dict[str, Any]]:
        """A run's subtasks with their progress, rate and ETA."""
        return self._get("/runs/%s/subtasks" % _id(run_id))

    def get_run(self, run_id: Any) -> Dict[str, Any]:
        """A run with its subtasks and completion estimate."""
        return self._get("/runs/%s" % _id(run_id))


_default: Optional[Tracker] = None
_default_lock = threading.Lock()


def default_tracker() -> Tracker:
    """The Tracker of TASKMODEL_URL and TASKMODEL_TOKEN, made on first use."""
    global _default
    with _default_lock:
        if _default is None:
            url = os.environ.get("TASKMODEL_URL", "")
            if not url:
                raise RuntimeError("TASKMODEL_URL is not set: set it to the taskmodel server's URL "
                                   "(and TASKMODEL_TOKEN to a token), or use Tracker(url, token)")
            _default = Tracker(url, os.environ.get("TASKMODEL_TOKEN") or None)
        return _default


def set_default_tracker(t: Optional[Tracker]) -> None:
    """Replaces the default tracker (None: make it from the environment again)."""
    global _default
    with _default_lock:
        _default = t


def _delegate(name: str):
    method = getattr(Tracker, name)

    def fn(*args: Any, **kwargs: Any) -> Any:
        return getattr(default_tracker(), name)(*args, **kwargs)

    fn.__name__ = name
    fn.__qualname__ = name
    fn.__doc__ = method.__doc__
    return fn


register = _delegate("register")
get_stages = _delegate("get_stages")
task_start = _delegate("task_start")
task_update = _delegate("task_update")
task_complete = _delegate("task_complete")
task_fail = _delegate("task_fail")
task_skip = _delegate("task_skip")
task_cancel = _delegate("task_cancel")
subtask_start = _delegate("subtask_start")
subtask_update = _delegate("subtask_update")
subtask_increment = _delegate("subtask_increment")
subtask_complete = _delegate("subtask_complete")
subtask_fail = _delegate("subtask_fail")
get_task_status = _delegate("get_task_status")
get_active_tasks = _delegate("get_active_tasks")
get_task_history = _delegate("get_task_history")
get_subtask_progress = _delegate("get_subtask_progress")
get_run = _delegate("get_run")
