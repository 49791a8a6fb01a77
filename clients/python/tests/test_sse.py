"""The Server-Sent Events parser against the format's rules."""

import random
import unittest

from taskmodel import sse


def events(text, chunks=None):
    data = text.encode("utf-8")
    if chunks:
        parts = [data[i:i + chunks] for i in range(0, len(data), chunks)]
    else:
        parts = [data]
    return list(sse.parse(sse.split_lines(parts)))


class ParseTest(unittest.TestCase):
    def test_cases(self):
        cases = [
            ("one event", "event: task\nid: 3\ndata: {}\n\n", [("task", "{}", "3")]),
            ("multi-line data", "data: a\ndata: b\n\n", [("message", "a\nb", None)]),
            ("comments skipped", ": keep-alive\n\n: x\ndata: y\n\n", [("message", "y", None)]),
            ("no space after colon", "data:x\n\n", [("message", "x", None)]),
            ("only the first space", "data:  x\n\n", [("message", " x", None)]),
            ("CRLF endings", "event: task\r\ndata: 1\r\n\r\n", [("task", "1", None)]),
            ("CR endings", "data: 1\rdata: 2\r\r", [("message", "1\n2", None)]),
            ("no data no dispatch", "event: x\n\n", []),
            ("empty data line", "data\n\n", [("message", "", None)]),
            ("partial event dropped", "data: 1\n\ndata: 2\n", [("message", "1", None)]),
            ("id carries over", "id: 7\ndata: a\n\ndata: b\n\n", [("message", "a", "7"), ("message", "b", "7")]),
            ("unknown field ignored", "foo: bar\ndata: z\n\n", [("message", "z", None)]),
            ("unauthorized", "event: unauthorized\ndata: {\"detail\":\"gone\"}\n\n", [("unauthorized", "{\"detail\":\"gone\"}", None)]),
            ("utf-8 split across chunks", "data: é€😀\n\n", [("message", "é€😀", None)]),
            ("byte order mark", "\ufeffdata: a\n\n", [("message", "a", None)]),
        ]
        for name, text, want in cases:
            for chunk in (None, 1, 3):
                with self.subTest(name=name, chunk=chunk):
                    got = [(e.event, e.data, e.id) for e in events(text, chunk)]
                    self.assertEqual(got, want)

    def test_retry(self):
        got = events("retry: 2000\n\nretry: x\ndata: a\n\n")
        self.assertEqual([(e.data, e.retry) for e in got], [("a", 2000)])


class ChunkingTest(unittest.TestCase):
    """Random streams (a fuzz test): how a stream is cut into chunks never
    changes its events, and parsing never fails."""

    def test_random_streams(self):
        rng = random.Random(20261205)
        pieces = ["data", "event", "id", "retry", ":", " ", "x", "é", "😀", "\n", "\r", "\r\n", "\n\n", "7", "\0", "\ufeff"]
        for _ in range(500):
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
            want = [(e.event, e.data, e.id, e.retry) for e in events(text)]
            for size in (1, 2, 5):
                got = [(e.event, e.data, e.id, e.retry) for e in events(text, size)]
                self.assertEqual(got, want, repr(text))


if __name__ == "__main__":
    unittest.main()
