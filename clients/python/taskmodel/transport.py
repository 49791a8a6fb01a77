"""HTTP with urllib: JSON requests with a bearer token; errors as ProblemError."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Iterable, Mapping, Optional, Sequence, Tuple, Union

from .errors import PROBLEM_TYPE_BASE, LeaseLost, ProblemError, TaskmodelError
from .text import sanitize

#: A query: a mapping (a list or tuple value repeats its parameter) or pairs.
Query = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], None]

DEFAULT_TIMEOUT = 60.0
USER_AGENT = "taskmodel-python/0.1"


class Transport:
    """Sends requests to one taskmodel server with one token (None: no
    Authorization header, for a server that allows anonymous access)."""

    def __init__(self, url: str, token: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT):
        if not url:
            raise ValueError("url: the server's base URL is required, e.g. http://127.0.0.1:8080")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("url: must be an http:// or https:// URL, not %r" % url)
        self.url = url.rstrip("/")
        self.token = token or None
        self.timeout = timeout

    def full_url(self, path: str, query: Query = None) -> str:
        """The URL of path (which starts with /) with its query string."""
        url = self.url + path
        pairs = []
        items = query.items() if isinstance(query, Mapping) else (query or [])
        for k, v in items:
            if v is None:
                continue
            for one in (v if isinstance(v, (list, tuple)) else [v]):
                if isinstance(one, bool):
                    one = "true" if one else "false"
                pairs.append((k, str(one)))
        if pairs:
            url += "?" + urllib.parse.urlencode(pairs)
        return url

    def open(self, method: str, path: str, body: Any = None, query: Query = None,
             timeout: Optional[float] = None, accept: str = "application/json",
             traceparent: Optional[str] = None):
        """Sends the request and returns the open response (the caller closes
        it); an error status raises ProblemError. traceparent, a W3C trace
        context, is sent as the traceparent header: the server traces what
        the request does in that trace. Lone surrogates in the body's and
        the query's strings are replaced (text.sanitize): UTF-8 cannot
        encode them."""
        if isinstance(query, Mapping):
            query = sanitize(dict(query))
        elif query:
            query = [tuple(pair) for pair in sanitize(list(query))]
        url = self.full_url(path, query)
        data = None
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        if traceparent:
            headers["traceparent"] = traceparent
        if body is not None:
            data = json.dumps(sanitize(body), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            try:
                return urllib.request.urlopen(req, timeout=self.timeout if timeout is None else timeout)
            except urllib.error.HTTPError as e:
                with e:
                    raise problem_of(e.code, e.read(), method, path) from None
        except urllib.error.URLError as e:
            raise TaskmodelError("%s %s: cannot reach %s: %s" % (method, path, self.url, e.reason)) from e
        except http.client.HTTPException as e:
            if isinstance(e, OSError):
                raise
            raise broken_answer(e, method, path, self.url) from e

    def call(self, method: str, path: str, body: Any = None, query: Query = None,
             timeout: Optional[float] = None, traceparent: Optional[str] = None) -> Any:
        """Sends the request and returns its decoded JSON answer (None when empty)."""
        with self.open(method, path, body, query, timeout, traceparent=traceparent) as resp:
            try:
                raw = resp.read()
            except http.client.HTTPException as e:
                if isinstance(e, OSError):
                    raise
                raise broken_answer(e, method, path, self.url) from e
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as e:
            raise TaskmodelError("%s %s: the answer is not JSON: %s" % (method, path, e)) from e


def broken_answer(e: http.client.HTTPException, method: str, path: str, url: str) -> TaskmodelError:
    """The exception of an answer that broke off or is not HTTP (an
    http.client.HTTPException: IncompleteRead, BadStatusLine…): a
    TaskmodelError, as for a server that cannot be reached, so that every
    caller retries it as it does a lost connection. (One that is an OSError
    too, RemoteDisconnected, is raised as it is by the callers: it is the
    connection error it says.)"""
    if isinstance(e, http.client.IncompleteRead):
        more = "" if e.expected is None else ", %d more expected" % e.expected
        what = "broke off (%d bytes read%s)" % (len(e.partial or b""), more)
    else:
        what = "is not valid HTTP (%s)" % (_said(e) or type(e).__name__)
    return TaskmodelError("%s %s: the answer of %s %s" % (method, path, url, what))


def _said(e: BaseException) -> str:
    """str(e), or "" when that fails."""
    try:
        return str(e)
    except Exception:
        return ""


def problem_of(status: int, raw: bytes, method: str, path: str) -> ProblemError:
    """The exception of an error answer: its problem+json, or a problem made
    from the status when the body is not one."""
    problem: Optional[dict] = None
    try:
        decoded = json.loads(raw)
        if isinstance(decoded, dict):
            problem = decoded
    except ValueError:
        pass
    if problem is None:
        text = raw.decode("utf-8", "replace").strip()
        problem = {"status": status, "title": "HTTP %d" % status, "detail": text[:500]}
    cls = LeaseLost if problem.get("type") == PROBLEM_TYPE_BASE + "lease-lost" else ProblemError
    return cls(status, problem, method, path)


def iter_chunks(resp: Any, size: int = 4096, method: str = "GET", path: str = "", url: str = "") -> Iterable[bytes]:
    """The bytes of a streaming response as they arrive; an answer that
    breaks off raises TaskmodelError (broken_answer)."""
    read = getattr(resp, "read1", None) or resp.read
    while True:
        try:
            chunk = read(size)
        except http.client.HTTPException as e:
            if isinstance(e, OSError):
                raise
            raise broken_answer(e, method, path, url) from e
        if not chunk:
            return
        yield chunk
