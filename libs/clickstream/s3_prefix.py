"""An s3:// root as bucket and key prefix, with a boto3 S3 client made on first use.

The endpoint, region and credentials come from the standard AWS environment, as boto3 reads them.
"""

from __future__ import annotations

from typing import Any


class S3Prefix:
    """s3://bucket/prefix: `bucket`, `prefix` (no slashes at its ends) and a lazy `client`."""

    def __init__(self, root: str) -> None:
        self.root = root
        bucket, _, prefix = root.split("://", 1)[1].partition("/")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self._client: Any = None

    @property
    def client(self) -> Any:
        """boto3's S3 client, made on first use (importing boto3 costs a run that never lists)."""
        if self._client is None:
            from clickstream.aws_clients import aws_client

            self._client = aws_client("s3")
        return self._client

    def key(self, relative: str) -> str:
        """The object key of a path relative to the prefix ('' gives the prefix itself)."""
        return "/".join(p for p in (self.prefix, relative.strip("/")) if p)
