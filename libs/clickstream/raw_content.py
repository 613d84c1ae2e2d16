"""The content of a raw object as bounded chunks: read from memory, a local file or S3, gunzipped.

Content that starts with the gzip magic bytes (1f 8b) is gzip, whatever the name: every member of
a multi-member object is decompressed in turn, zero padding between or after members is skipped.
Chunks are handed out as they are decompressed, at most ``chunk`` bytes each, so no object is
ever held decompressed in memory. How reading ended is left in a ``ContentStatus``:

* ``complete``: the whole content was handed out;
* ``too_large``: the decompressed content is longer than ``limit``; the first ``limit`` bytes
  were handed out and nothing more is read (a gzip bomb costs its first ``limit`` bytes);
* ``truncated``: the gzip stream ends before its end (an object cut short), or cannot be decoded
  past some point (corrupt data, trailing bytes that are not gzip); what was decoded before was
  handed out;
* ``unreadable``: not a byte could be decoded (a gzip header or first block that is not gzip).

Errors of the storage itself (a missing object, a network failure once the client's retries are
spent) are raised: the Spark task fails and is retried, as it would reading through Spark.
Objects are streamed from storage by ``read_raw``: local files with ``open``, S3 objects with
ranged GETs of ``READ_BYTES`` through boto3 (endpoint, region and credentials from the standard
AWS environment, as the driver's listing uses them), each range conditional on the first one's
ETag, so an object replaced while it is read fails the read instead of mixing two versions.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from clickstream.s3_prefix import S3Prefix

COMPLETE = "complete"
TOO_LARGE = "too_large"
TRUNCATED = "truncated"
UNREADABLE = "unreadable"
# Decompressed bytes handed out at a time: the parser's window grows by this much.
CHUNK_BYTES = 1 << 20
# Bytes read from storage per call (a file read, an S3 ranged GET).
READ_BYTES = 8 << 20
GZIP_MAGIC = b"\x1f\x8b"
# Compressed bytes given to zlib at a time: what it cannot use yet it copies (unconsumed_tail),
# so a whole object given at once would be copied again for every chunk it expands to.
_INPUT_STEP = 256 << 10
_SALVAGE_STEP = 64
_GZIP = 16 + zlib.MAX_WBITS  # zlib's wbits for a gzip header and trailer
S3_SCHEMES = ("s3://", "s3a://", "s3n://")

Bytes = bytes | memoryview


@dataclass
class ContentStatus:
    """How reading a raw object ended: outcome, the error met, the object's bytes read by then
    (compressed), the content's bytes handed out (decompressed)."""

    outcome: str = COMPLETE
    error: str = ""
    read: int = 0
    size: int = 0


def content_chunks(
    raw: Iterable[Bytes], status: ContentStatus, *, limit: int, chunk: int = CHUNK_BYTES
) -> Iterator[Bytes]:
    """The object's content (gunzipped when it starts with 1f 8b) in chunks of at most chunk
    bytes, stopping after limit bytes; how it ended is left in status."""
    pieces = iter(raw)
    first: Bytes = b""
    for piece in pieces:
        first = piece if not first else bytes(first) + bytes(piece)
        if len(first) >= 2:
            break
    if not first:
        return
    rest = _chain(first, pieces)
    if bytes(first[:2]) == GZIP_MAGIC:
        yield from _gunzip(rest, status, limit, chunk)
    else:
        yield from _plain(rest, status, limit, chunk)


def _chain(first: Bytes, pieces: Iterator[Bytes]) -> Iterator[Bytes]:
    """first, then the rest of pieces."""
    yield first
    yield from pieces


def _plain(
    pieces: Iterable[Bytes], status: ContentStatus, limit: int, chunk: int
) -> Iterator[Bytes]:
    """Uncompressed content in chunks, up to limit bytes."""
    for piece in pieces:
        view = memoryview(piece)
        for start in range(0, len(view), chunk):
            part = view[start : start + chunk]
            room = limit - status.size
            if len(part) > room:
                if room:
                    status.size += room
                    status.read += room
                    yield part[:room]
                status.outcome = TOO_LARGE
                return
            status.size += len(part)
            status.read += len(part)
            yield part


def _gunzip(
    pieces: Iterable[Bytes], status: ContentStatus, limit: int, chunk: int
) -> Iterator[Bytes]:
    """Gzip content, member after member, in chunks of decompressed bytes up to limit."""
    member: Any = None  # the current member's decompressor; None between members
    data: Bytes = b""
    fed = 0  # raw bytes given to this generator
    for piece in _slices(pieces, _INPUT_STEP):
        fed += len(piece)
        data = piece if not data else bytes(data) + bytes(piece)
        pending = True  # a member may hold output back even when its input is used up
        while data or (member is not None and pending):
            if member is None:
                data = bytes(data).lstrip(b"\x00")
                if len(data) < 2:
                    break  # padding, or a next member's first byte: wait for more
                if data[:2] != GZIP_MAGIC:
                    _failed(status, "trailing bytes that are not gzip", fed)
                    return
                member = zlib.decompressobj(_GZIP)
            ask = min(chunk, limit - status.size + 1)
            before = member.copy()
            try:
                out = member.decompress(data, ask)
                error = ""
            except zlib.error as exc:
                # The failing call's output is lost with it: decode again up to the damage.
                member, (out, failed) = before, _salvage(before, data, ask)
                error = str(exc) if failed else ""
            data = member.unconsumed_tail
            if out:
                room = limit - status.size
                if len(out) > room:
                    status.size += room
                    status.read = fed
                    status.outcome = TOO_LARGE
                    if room:
                        yield out[:room]
                    return
                status.size += len(out)
                yield out
            if error:
                _failed(status, error, fed)
                return
            if member.eof:
                data = member.unused_data
                member = None
            else:
                pending = len(out) == ask
    status.read = fed
    if member is not None:
        _failed(status, "the gzip stream ends before its end", status.read, truncated=True)
    elif data and bytes(data).strip(b"\x00"):
        _failed(status, "trailing bytes that are not gzip", status.read)


def _salvage(member: Any, data: Bytes, ask: int) -> tuple[bytes, bool]:
    """What member decodes of data (at most ask bytes) before the point where it fails, fed a
    few bytes at a time so little output is lost with the failing call; and whether it failed
    within those ask bytes."""
    out = bytearray()
    for piece in _slices([data], _SALVAGE_STEP):
        try:
            out += member.decompress(member.unconsumed_tail + bytes(piece), ask - len(out))
        except zlib.error:
            return bytes(out), True
        if len(out) >= ask:
            return bytes(out), False
    return bytes(out), False


def _slices(pieces: Iterable[Bytes], size: int) -> Iterator[Bytes]:
    """The pieces cut to at most size bytes (views, no copies)."""
    for piece in pieces:
        if len(piece) <= size:
            yield piece
        else:
            view = memoryview(piece)
            yield from (view[i : i + size] for i in range(0, len(view), size))


def _failed(status: ContentStatus, error: str, read: int, *, truncated: bool = False) -> None:
    """Record a decoding failure: truncated when the stream was cut or something was decoded."""
    status.outcome = TRUNCATED if truncated or status.size else UNREADABLE
    status.error = error
    status.read = read


def read_raw(path: str, read_bytes: int = READ_BYTES) -> Iterator[bytes]:
    """The bytes of a stored object, read_bytes at a time: a local path (file:) or S3 (s3://,
    s3a://, s3n://)."""
    if path.startswith(S3_SCHEMES):
        return _read_s3(path, read_bytes)
    return _read_file(local_path(path), read_bytes)


def can_read(path: str) -> bool:
    """Whether read_raw reads this path (a local file or an S3 object)."""
    return path.startswith(S3_SCHEMES) or path.startswith("file:") or "://" not in path


def local_path(path: str) -> str:
    """The file system path of a local URI as Hadoop qualifies it (file:/x, file:///x) or a path."""
    if path.startswith("file://"):
        return path[len("file://") :]
    return path.removeprefix("file:")


def _read_file(path: str, read_bytes: int) -> Iterator[bytes]:
    """A local file, read_bytes at a time."""
    with open(path, "rb") as file:
        while piece := file.read(read_bytes):
            yield piece


# One S3 client per bucket root and worker process (making one costs ~50 ms).
_CLIENTS: dict[str, Any] = {}


def _read_s3(path: str, read_bytes: int) -> Iterator[bytes]:
    """An S3 object by ranged GETs, each after the first conditional on the first one's ETag."""
    bucket_root, _, key = path.partition("://")[2].partition("/")
    client = _CLIENTS.get(bucket_root)
    if client is None:
        client = _CLIENTS[bucket_root] = S3Prefix(f"s3://{bucket_root}").client
    start, size, condition = 0, None, {}
    while size is None or start < size:
        try:
            answer = client.get_object(
                Bucket=bucket_root,
                Key=key,
                Range=f"bytes={start}-{start + read_bytes - 1}",
                **condition,
            )
        except client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange" and start == 0:
                return  # an empty object has no byte 0
            raise
        piece = answer["Body"].read()
        size = int(answer["ContentRange"].rpartition("/")[2])
        condition = {"IfMatch": answer["ETag"]}
        if not piece:
            raise OSError(f"{path}: S3 returned no bytes at offset {start} of {size}")
        start += len(piece)
        yield piece
