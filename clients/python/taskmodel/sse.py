"""A Server-Sent Events parser (the WHATWG event stream format)."""

from __future__ import annotations

import codecs
import dataclasses
from typing import Iterable, Iterator, Optional, Union


@dataclasses.dataclass
class SSEEvent:
    """One dispatched event: its type (default "message"), its data (the
    data lines joined by newlines), the last event id seen, and the retry
    delay in milliseconds if the stream set one."""

    event: str = "message"
    data: str = ""
    id: Optional[str] = None
    retry: Optional[int] = None


def parse(lines: Iterable[Union[bytes, str]]) -> Iterator[SSEEvent]:
    """Yields the events of a stream given line by line (bytes or str, with
    or without their line ending: CRLF, LF or CR).

    Comments (lines starting with ':') are skipped; data lines accumulate
    until a blank line dispatches the event; an event with no data line is
    not dispatched; a partial event at the end of the stream is dropped, as
    the format says.
    """
    data: list = []
    has_data = False
    event = ""
    last_id: Optional[str] = None
    retry: Optional[int] = None
    first = True
    for raw in lines:
        line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        # A line ending: CRLF, LF or CR.
        if line.endswith("\r\n"):
            line = line[:-2]
        elif line.endswith("\n") or line.endswith("\r"):
            line = line[:-1]
        if first:
            first = False
            if line.startswith("\ufeff"):
                line = line[1:]
        if line == "":
            if has_data:
                yield SSEEvent(event=event or "message", data="\n".join(data), id=last_id, retry=retry)
            data, has_data, event = [], False, ""
            continue
        if line.startswith(":"):
            continue
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
            has_data = True
        elif name == "event":
            event = value
        elif name == "id":
            if "\0" not in value:
                last_id = value
        elif name == "retry":
            if value.isdigit():
                retry = int(value)
        # Other field names are ignored.


def split_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Splits a byte stream into lines at CRLF, LF or CR (a CR at the end of
    a chunk waits for the next one, which may start with its LF)."""
    buf = ""
    pending_cr = False
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    for chunk in chunks:
        text = decoder.decode(chunk)
        if pending_cr and text.startswith("\n"):
            text = text[1:]
        pending_cr = False
        buf += text
        while True:
            i = min((k for k in (buf.find("\r"), buf.find("\n")) if k >= 0), default=-1)
            if i < 0:
                break
            line, rest = buf[:i], buf[i + 1:]
            if buf[i] == "\r":
                if rest.startswith("\n"):
                    rest = rest[1:]
                elif rest == "":
                    pending_cr = True
            yield line
            buf = rest
    buf += decoder.decode(b"", final=True)
    if buf:
        yield buf
