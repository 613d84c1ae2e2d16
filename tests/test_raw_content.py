"""Raw content as bounded chunks: gzip members, limits, cuts, and streaming from files and S3."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import boto3
import pytest

from clickstream.raw_content import (
    COMPLETE,
    TOO_LARGE,
    TRUNCATED,
    UNREADABLE,
    ContentStatus,
    content_chunks,
    read_raw,
)

TEXT = b"".join(b'{"event_id": "e%d"}\n' % i for i in range(2000))


def read_all(
    data: bytes, *, limit: int = 1 << 40, chunk: int = 4096, piece: int = 1000
) -> tuple[bytes, ContentStatus]:
    """The content handed out (its chunks joined) and how reading ended, data given in pieces."""
    status = ContentStatus()
    pieces = [data[i : i + piece] for i in range(0, len(data), piece)]
    chunks = list(content_chunks(pieces, status, limit=limit, chunk=chunk))
    assert all(len(c) <= chunk for c in chunks)
    return b"".join(bytes(c) for c in chunks), status


@pytest.mark.parametrize("piece", [1, 7, 1000, 1 << 20])
@pytest.mark.parametrize("chunk", [1, 100, 1 << 20])
def test_gzip_and_plain_content_come_out_whole_whatever_the_piece_and_chunk_sizes(
    piece: int, chunk: int
) -> None:
    # GIVEN the same text plain and gzipped, handed over in pieces of any size
    # WHEN read in chunks of any size / THEN the chunks join to the text and reading completes
    for data in (TEXT, gzip.compress(TEXT, mtime=0)):
        content, status = read_all(data, chunk=chunk, piece=piece)
        assert (content, status.outcome, status.size) == (TEXT, COMPLETE, len(TEXT))


def test_every_member_of_a_multi_member_gzip_is_read_and_zero_padding_is_skipped() -> None:
    # GIVEN three gzip members (one empty) with zero padding between and after them
    data = gzip.compress(b"first\n") + gzip.compress(b"") + b"\0\0" + gzip.compress(b"third\n")
    # WHEN read / THEN every member's text comes out in order
    assert read_all(data + b"\0" * 5, piece=3, chunk=2)[0] == b"first\nthird\n"


def test_a_gzip_stream_cut_short_hands_out_what_decoded_and_is_truncated() -> None:
    # GIVEN a gzip object cut in the middle
    data = gzip.compress(TEXT, mtime=0)
    cut = data[: len(data) // 2]
    # WHEN read / THEN the text before the cut comes out and reading ends as truncated
    content, status = read_all(cut)
    assert TEXT.startswith(content) and 0 < len(content) < len(TEXT)
    assert (status.outcome, status.read) == (TRUNCATED, len(cut))
    assert status.error == "the gzip stream ends before its end"


def test_corrupt_gzip_data_keeps_what_decoded_before_the_damage_with_zlibs_error() -> None:
    # GIVEN a gzip object whose middle 64 bytes are zeros (a back-reference goes astray)
    data = bytearray(gzip.compress(TEXT, compresslevel=1, mtime=0))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    # WHEN read in chunks larger than the object / THEN the text before the damage still comes
    # out (the failing zlib call is replayed in small steps) and the error is zlib's
    content, status = read_all(bytes(data), chunk=1 << 20, piece=len(data))
    assert status.outcome == TRUNCATED
    assert status.error == "Error -3 while decompressing data: invalid distance too far back"
    assert len(content) > len(TEXT) // 3 and TEXT.startswith(content[: len(TEXT) // 3])


def test_content_that_starts_like_gzip_but_is_not_is_unreadable() -> None:
    # GIVEN the gzip magic bytes followed by text
    # WHEN read / THEN nothing decodes: unreadable, with zlib's error
    content, status = read_all(b"\x1f\x8b this is not gzip at all")
    assert (content, status.outcome) == (b"", UNREADABLE)
    assert "Error -3" in status.error


def test_trailing_bytes_after_the_last_member_that_are_not_gzip_truncate_the_object() -> None:
    # GIVEN a complete member followed by bytes that are not gzip
    content, status = read_all(gzip.compress(TEXT, mtime=0) + b"garbage", piece=10_000)
    # WHEN read / THEN the member's text is kept and the rest is reported
    assert (content, status.outcome, status.error) == (
        TEXT,
        TRUNCATED,
        "trailing bytes that are not gzip",
    )


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_content_past_the_limit_stops_at_exactly_the_limit(compress: bool) -> None:
    # GIVEN content one byte longer than the limit, and content exactly at it
    data = gzip.compress(TEXT, mtime=0) if compress else TEXT
    # WHEN read with the limit / THEN the first limit bytes come out, then too_large ...
    content, status = read_all(data, limit=len(TEXT) - 1)
    assert (content, status.outcome, status.size) == (TEXT[:-1], TOO_LARGE, len(TEXT) - 1)
    # ... and content of exactly the limit is complete
    assert read_all(data, limit=len(TEXT))[1].outcome == COMPLETE


def test_a_gzip_bomb_is_decompressed_only_up_to_the_limit() -> None:
    # GIVEN 64 MiB of zeros gzipped into ~64 KB
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31)
    data = bomb.compress(b"\0" * (64 << 20)) + bomb.flush()
    assert len(data) < 100_000
    # WHEN read with a 1 MiB limit / THEN 1 MiB comes out and reading stops there
    content, status = read_all(data, limit=1 << 20, chunk=1 << 16, piece=len(data))
    assert (len(content), status.outcome, status.size) == (1 << 20, TOO_LARGE, 1 << 20)


def test_an_empty_object_has_no_content() -> None:
    # GIVEN empty content / WHEN read / THEN no chunk, complete
    assert read_all(b"") == (b"", ContentStatus())


def test_a_local_file_is_streamed_in_pieces_of_the_read_size(tmp_path: Path) -> None:
    # GIVEN a file on disk named by its file: URI
    path = tmp_path / "object"
    path.write_bytes(TEXT)
    # WHEN read 1000 bytes at a time / THEN the pieces join to the file
    pieces = list(read_raw(f"file:{path}", read_bytes=1000))
    assert [len(p) for p in pieces[:2]] == [1000, 1000] and b"".join(pieces) == TEXT
    assert b"".join(read_raw(f"file://{path}")) == TEXT


def test_an_s3_object_is_streamed_by_ranged_gets_with_the_endpoint_of_the_environment(
    moto: str,
) -> None:
    # GIVEN an object on the (moto) S3 endpoint named by AWS_ENDPOINT_URL
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lake")
    s3.put_object(Bucket="lake", Key="raw/x.gz", Body=gzip.compress(TEXT, mtime=0))
    s3.put_object(Bucket="lake", Key="raw/empty", Body=b"")
    # WHEN it is read 500 bytes at a time, over s3:// and s3a:// names
    pieces = list(read_raw("s3://lake/raw/x.gz", read_bytes=500))
    # THEN the ranges join to the object, and an empty object reads as empty
    assert [len(p) for p in pieces[:-1]] == [500] * (len(pieces) - 1)
    assert gzip.decompress(b"".join(pieces)) == TEXT
    assert b"".join(read_raw("s3a://lake/raw/x.gz")) == gzip.compress(TEXT, mtime=0)
    assert list(read_raw("s3://lake/raw/empty")) == []


def test_an_s3_object_replaced_while_it_is_read_fails_the_read(moto: str) -> None:
    # GIVEN an object read range by range
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lake")
    s3.put_object(Bucket="lake", Key="o", Body=b"a" * 1000)
    pieces = read_raw("s3://lake/o", read_bytes=100)
    assert next(pieces) == b"a" * 100
    # WHEN it is replaced before the next range / THEN the next range fails (ETag condition)
    s3.put_object(Bucket="lake", Key="o", Body=b"b" * 1000)
    with pytest.raises(s3.exceptions.ClientError, match="PreconditionFailed"):
        next(pieces)
