"""taskmodel: a Python client of the taskmodel HTTP API (standard library only).

- Client: create, get, list, history, cancel, wait (poll until terminal) and
  follow (Server-Sent Events) tasks.
- Worker: claim tasks of some models over the worker protocol and run Python
  handlers, with heartbeats, progress, cancellation and failure codes.
- tracker: pipeline tracking (task_start, subtask_update, get_task_status…).
- models: each built-in model's statuses, events, display and dataclass,
  generated from the specs.
"""

from . import models, tracker
from .client import Client, is_terminal
from .errors import LeaseLost, ProblemError, StreamUnauthorized, TaskmodelError
from .tracker import Tracker
from .worker import TaskCancelled, TaskContext, TaskFailed, Worker

__all__ = [
    "Client", "is_terminal", "LeaseLost", "ProblemError", "StreamUnauthorized", "TaskmodelError",
    "Tracker", "TaskCancelled", "TaskContext", "TaskFailed", "Worker", "models", "tracker",
]

__version__ = "0.1.0"
