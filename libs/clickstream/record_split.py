"""Records of a raw object: its text split into JSON values, one bounded window at a time.

The text is a sequence of JSON values, separated by nothing or by whitespace, each possibly
spanning lines; blank lines are not records and a byte-order mark before a value is dropped:

* a value is kept when it is followed by whitespace, the end of the text, ``{`` or ``[``, or when
  it closes itself (object, array, string), so ``{..}{..}`` is two records while
  ``2026-03-01 ok`` is not split into numbers;
* on a failure the rejected record runs from the start of the failing value to the end of that
  line (trailing whitespace dropped) and parsing resumes on the next line: in newline-delimited
  content an unparseable line is exactly one rejected record.

Bytes are decoded as UTF-8 with ``surrogateescape``: a byte that is not UTF-8 becomes one lone
surrogate (U+DC80..U+DCFF), so the record keeps it exactly and the reader can tell it apart from
text (``raw_text`` writes it back as ``\\xNN``).

The content arrives in chunks (``raw_content``). A window is the text not consumed yet plus the
next chunk. In a window that is not the object's last, a decision that depends on text past its
end waits for the next window: a value touching the end, or a failure found within ``_MARGIN``
characters of it (``12.`` may be ``12.5``, ``tru`` may be ``true``), or a failed value whose line
does not end in the window. The window ends with a NUL sentinel, which no JSON value may hold, so
a value cut by the window's end fails at the end and is retried with more text. The records are
exactly those of the whole text split at once.

A record longer than ``max_record_bytes`` is never parsed whole: once the text not consumed holds
more characters than that, the record it starts is rejected (``record_too_large``) up to the end
of its line, like a not_json record, and the bytes up to that line's end are skipped unread.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from clickstream.raw_content import COMPLETE, Bytes, ContentStatus
from clickstream.reasons import (
    NOT_JSON,
    OBJECT_TOO_LARGE,
    RECORD_TOO_LARGE,
    SKIPPED_BY_OPERATOR,
    TRUNCATED_OBJECT,
    UNREADABLE_OBJECT,
)


class Marker:
    """The value of a record that is not a JSON value: the reason it gets."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        """A marker for records of this reason."""
        self.reason = reason


NOT_JSON_VALUE = Marker(NOT_JSON)
TOO_LARGE_VALUE = Marker(RECORD_TOO_LARGE)
SKIPPED_VALUE = Marker(SKIPPED_BY_OPERATOR)
OBJECT_MARKERS = {
    "unreadable": Marker(UNREADABLE_OBJECT),
    "truncated": Marker(TRUNCATED_OBJECT),
    "too_large": Marker(OBJECT_TOO_LARGE),
}

# The C scanner behind raw_decode: (value, end) of the JSON value starting at an index.
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore
_SKIP_WS = re.compile("[ \t\n\r\ufeff]*").match
_SELF_CLOSING = frozenset('}]"')
_MAY_FOLLOW = frozenset(" \t\n\r\ufeff{[")
# Ends a window that is not the object's last; a NUL cannot stand outside or inside a JSON value.
SENTINEL = "\x00"
# A failure this close to a window's end may be a cut token (-Infinity, \uXXXX, 1.5e+): wait.
_MARGIN = 16
# The first bytes of an oversized record kept in its description.
HEAD_BYTES = 1024
_ASCII_SPACE = b" \t\r\x0b\x0c"
# An oversized record's structure, outside and inside strings: what may change its nesting.
_STRUCTURE = re.compile(rb'[{}\[\]"\n]')
_IN_STRING = re.compile(rb'["\\\n]')


def split_records(
    text: str, records: list[str | None], values: list[Any], *, final: bool = True
) -> int:
    """Append each JSON value of text (or each rejected rest-of-line) to records and values;
    the index where the first record not decided yet starts (len(text) when final).

    A window that is not final ends with SENTINEL, which is not part of its text.
    """
    scan, skip = _SCAN, _SKIP_WS
    add_record, add_value = records.append, values.append
    self_closing, may_follow = _SELF_CLOSING, _MAY_FOLLOW
    n = len(text) if final else len(text) - 1
    wait = n + 1 if final else n - _MARGIN  # a failure at or past this may be a cut token
    pos = 0
    while True:
        pos = skip(text, pos).end()
        if pos >= n:
            return n
        try:
            value, end = scan(text, pos)
        except StopIteration as exc:
            bad = exc.value
        except json.JSONDecodeError as exc:
            bad = exc.pos
        except (ValueError, RecursionError):
            bad = -1  # too deep, or an integer too long to convert: whatever follows
        else:
            if end < n:
                if text[end - 1] in self_closing or text[end] in may_follow:
                    add_record(text[pos:end])
                    add_value(value)
                    pos = end
                    continue
                bad = end
            elif final or text[end - 1] in self_closing:
                add_record(text[pos:end])
                add_value(value)
                pos = end
                continue
            else:
                return pos  # a number or literal touching the window's end may go on
        if bad >= wait:
            return pos
        end = text.find("\n", pos, n)
        if end < 0:
            if not final:
                return pos
            end = n
        add_record(text[pos:end].rstrip())
        add_value(NOT_JSON_VALUE)
        pos = end


def raw_text(text: str) -> str:
    """The text with each byte that was not UTF-8 written as \\xNN (four characters)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def utf8_size(text: str) -> int:
    """The number of bytes the text came from."""
    return len(text.encode("utf-8", "surrogateescape"))


def too_large_record(head: str, size: int) -> str:
    """The record kept for an oversized one: its size in bytes and its first KiB, as JSON."""
    cut = head[:HEAD_BYTES]
    while utf8_size(cut) > HEAD_BYTES:
        cut = cut[: -1 - (utf8_size(cut) - HEAD_BYTES) // 4]
    return json.dumps({"bytes": size, "head": raw_text(cut)}, ensure_ascii=False)


class RecordSink(Protocol):
    """Where split records go: parallel lists of record texts and values, and the characters of
    text consumed (a flush threshold)."""

    records: list[str | None]
    values: list[Any]
    chars: int


class _Utf8:
    """An incremental UTF-8 decoder with surrogateescape that takes views without copying them."""

    def __init__(self) -> None:
        """A decoder with nothing pending."""
        self.pending: bytes = b""  # the first bytes of a character cut by the chunk's end

    def decode(self, data: Bytes, final: bool) -> str:
        """The text of data after what is pending; a cut character waits unless final."""
        if self.pending:
            data = self.pending + bytes(data)
        text, used = codecs.utf_8_decode(data, "surrogateescape", final)
        self.pending = bytes(data[used:]) if used < len(data) else b""
        return text


class _Skip:
    """An oversized record being skipped unread: it ends where its value closes (when it starts
    with ``{``, ``[`` or ``"``) or at its line's end, whichever comes first."""

    def __init__(self, head: str) -> None:
        """A record whose text so far is head (it starts the record)."""
        self.head = head[:HEAD_BYTES]
        self.size = 0
        self.spaces = 0  # trailing ASCII whitespace counted in size (not part of the record)
        self.structured = head[:1] in ("{", "[", '"')
        self.depth = 0
        self.in_string = False
        self.escaped = False

    def feed(self, data: bytes) -> int:
        """Take data as part of the record: the index in data where the record ends, else -1."""
        end = self._structure(data) if self.structured else data.find(b"\n")
        taken = data if end < 0 else data[:end]
        kept = len(taken.rstrip(_ASCII_SPACE))
        self.spaces = self.spaces + len(taken) if not kept else len(taken) - kept
        self.size += len(taken)
        return end

    def _structure(self, data: bytes) -> int:
        """Where the value closes or a line ends in data (-1: neither), tracking nesting."""
        pos, n = 0, len(data)
        while pos < n:
            if self.escaped:
                self.escaped = False
                pos += 1
                continue
            found = (_IN_STRING if self.in_string else _STRUCTURE).search(data, pos)
            if found is None:
                return -1
            char, pos = data[found.start()], found.end()
            if char == 0x0A:  # a line end, inside a string too: JSON strings hold none
                return found.start()
            if char == 0x5C:
                self.escaped = True
            elif char == 0x22:
                self.in_string = not self.in_string
                if not self.in_string and self.depth == 0:
                    return pos
            elif char in (0x7B, 0x5B):
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth <= 0:
                    return pos
        return -1


class ObjectSplitter:
    """Splits one object's content, chunk by chunk, into a sink's records and values."""

    def __init__(self, sink: RecordSink, max_record_bytes: int) -> None:
        """A splitter of one object writing to sink, records over max_record_bytes skipped."""
        self.sink = sink
        self.max_record_bytes = max_record_bytes
        self.decoder = _Utf8()
        self.rest = ""  # text not consumed yet: a record the windows so far did not decide
        self.skip: _Skip | None = None

    def windows(self, chunks: Iterable[Bytes], status: ContentStatus) -> Iterator[None]:
        """Split every chunk, yielding after each window (the sink may be flushed then); the
        last chunk is the final window when the content is complete."""
        previous: Bytes | None = None
        for chunk in chunks:
            if previous is not None:
                self._chunk(previous, final=False)
                yield
            previous = chunk
        if previous is not None:
            self._chunk(previous, final=status.outcome == COMPLETE)
        if self.skip is not None:
            self._end_skip()

    def rest_bytes(self) -> int:
        """Bytes handed to the splitter that no record holds: the record the content's end cut."""
        return utf8_size(self.rest) + len(self.decoder.pending)

    def _chunk(self, chunk: Bytes, final: bool) -> None:
        """Split one chunk: past an oversized record being skipped, then as a window."""
        if self.skip is not None:
            data = bytes(chunk)
            end = self.skip.feed(data)
            if end < 0:
                return
            self._end_skip()
            chunk = data[end:]
        self._window(self.decoder.decode(chunk, final), final)

    def _window(self, text: str, final: bool) -> None:
        """Split the text not consumed yet plus text; keep what stays undecided."""
        if self.rest:
            text = self.rest + text
            self.rest = ""
        if not text:
            return
        sink = self.sink
        if final:
            split_records(text, sink.records, sink.values)
            sink.chars += len(text)
            return
        window = text + SENTINEL
        while True:
            start = split_records(window, sink.records, sink.values, final=False)
            sink.chars += start
            rest = window[start:-1]
            # A record that fits is decided within its length plus the margin.
            if len(rest) <= self.max_record_bytes + _MARGIN:
                self.rest = rest
                return
            # The record rest starts is longer than any record may be: skip it unparsed.
            skip = _Skip(rest)
            data = rest.encode("utf-8", "surrogateescape")
            end = skip.feed(data)
            if end < 0:
                skip.size += len(self.decoder.pending)
                self.skip = skip
                self.decoder = _Utf8()
                return
            self.skip = skip
            self._end_skip()
            window = data[end:].decode("utf-8", "surrogateescape") + SENTINEL

    def _end_skip(self) -> None:
        """Add the skipped oversized record, described."""
        skip, self.skip = self.skip, None
        assert skip is not None
        self.sink.records.append(too_large_record(skip.head, skip.size - skip.spaces))
        self.sink.values.append(TOO_LARGE_VALUE)
