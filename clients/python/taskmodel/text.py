"""Text the server accepts: strings without lone surrogates, and messages
without NUL characters.

A Python string can hold lone surrogates (U+D800 to U+DFFF): os.fsdecode,
os.listdir, sys.argv and errors="surrogateescape" decode a byte that is
not UTF-8 as one (b"\\xe9" as "\\udce9"). UTF-8 cannot encode them, so a
request body holding one could not be sent at all. sanitize replaces each
with readable text that says what it was:

- U+DC80 to U+DCFF (surrogateescape's escape of one byte) as the byte,
  written \\xNN: "caf\\udce9" becomes the 8 characters "caf\\xe9";
- any other lone surrogate as \\uNNNN: "\\ud800" becomes the 6 characters
  "\\ud800";
- a high surrogate followed by a low one as the character they stand for
  ("\\ud83d\\ude00" becomes "😀").

message also removes NUL characters (U+0000), which the server refuses in
messages (PostgreSQL's text cannot hold them).
"""

from __future__ import annotations

import re
from typing import Any

_SURROGATES = re.compile("[\ud800-\udfff]")
_PAIR_OR_LONE = re.compile("[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]")


def _replace(m: "re.Match[str]") -> str:
    s = m.group()
    if len(s) == 2:
        return chr(0x10000 + ((ord(s[0]) - 0xD800) << 10) + (ord(s[1]) - 0xDC00))
    c = ord(s)
    if 0xDC80 <= c <= 0xDCFF:
        return "\\x%02x" % (c - 0xDC00)
    return "\\u%04x" % c


def clean(s: str) -> str:
    """s with its lone surrogates replaced (see the module's doc)."""
    if not _SURROGATES.search(s):
        return s
    return _PAIR_OR_LONE.sub(_replace, s)


def sanitize(value: Any) -> Any:
    """value (a request body: dicts, lists, tuples, strings, numbers…) with
    every string in it, keys included, cleaned of lone surrogates."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {sanitize(k): sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [sanitize(v) for v in value]
    return value


def message(s: Any) -> Any:
    """A message as the server accepts it: cleaned of lone surrogates, its
    NUL characters removed. None stays None."""
    if s is None:
        return None
    return clean(str(s)).replace("\x00", "")
