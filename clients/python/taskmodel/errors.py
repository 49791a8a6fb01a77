"""The exceptions of the client: an HTTP error carries its problem+json."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

#: The type URI prefix of every problem the server returns.
PROBLEM_TYPE_BASE = "urn:taskmodel:problem:"


class TaskmodelError(Exception):
    """Base class of the errors this package raises."""


class ProblemError(TaskmodelError):
    """An HTTP error answer: the RFC 9457 problem the server sent.

    type, title, detail and status are the problem's; field is the first
    refused field (errors[0].field) or None; errors is every refused field
    ({"field", "rule", "message"}); current_status the task's status when a
    transition was refused; problem the whole decoded body.
    """

    def __init__(self, status: int, problem: Optional[Mapping[str, Any]] = None, method: str = "", url: str = ""):
        p: Dict[str, Any] = dict(problem or {})
        self.status: int = int(p.get("status") or status)
        self.type: str = str(p.get("type") or "about:blank")
        self.title: str = str(p.get("title") or "HTTP %d" % status)
        self.detail: str = str(p.get("detail") or "")
        self.errors: List[Dict[str, Any]] = [e for e in (p.get("errors") or []) if isinstance(e, dict)]
        self.field: Optional[str] = self.errors[0].get("field") if self.errors else None
        self.current_status: Optional[str] = p.get("current_status")
        self.problem: Dict[str, Any] = p
        self.method = method
        self.url = url
        msg = "%s %s: %d %s" % (method, url, self.status, self.title)
        if self.detail:
            msg += ": " + self.detail
        super().__init__(msg)

    @property
    def kind(self) -> str:
        """The problem's kind: the type without the server's prefix (validation, not-found, lease-lost…)."""
        if self.type.startswith(PROBLEM_TYPE_BASE):
            return self.type[len(PROBLEM_TYPE_BASE):]
        return self.type


class LeaseLost(ProblemError):
    """A worker's lease on a task is gone (409, type lease-lost): another
    worker may hold the task now; nothing was written."""


class StreamUnauthorized(TaskmodelError):
    """An event stream ended because its token was revoked or no longer
    allows the task (the server's event: unauthorized)."""

    def __init__(self, detail: str = ""):
        self.detail = detail
        super().__init__(detail or "the stream's token was revoked")
