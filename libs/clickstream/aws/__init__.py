"""AWS tooling: packaging, deployment, Glue Data Catalog and Redshift SQL (boto3, never awsglue).

Every client is made by `client()`, with the product's one botocore configuration
(clickstream.aws_clients: standard retries, timeouts) and the configured region; the endpoint
comes from boto3's own configuration, so the standard AWS_ENDPOINT_URL (or
AWS_ENDPOINT_URL_<SERVICE>) points the tooling at a local endpoint such as a moto server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clickstream.config import ConfigError

if TYPE_CHECKING:
    import boto3

    from clickstream.config import Settings


def client(service: str, settings: Settings, session: boto3.Session | None = None) -> Any:
    """A boto3 client for `service` in settings.aws_region (endpoint from the AWS config/env)."""
    from clickstream.aws_clients import aws_client

    return aws_client(service, settings.values.get("aws_region") or None, session)


def split_s3_uri(uri: str, key: str = "uri") -> tuple[str, str]:
    """Split s3://bucket/prefix into (bucket, prefix without slashes at the ends)."""
    if not isinstance(uri, str) or not uri.startswith("s3://") or not uri[5:].split("/")[0]:
        raise ConfigError(f"{key}={uri!r}: expected an s3:// URI such as s3://bucket/prefix")
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, prefix.strip("/")


def s3_uri(bucket: str, key: str) -> str:
    """s3://bucket/key."""
    return f"s3://{bucket}/{key}"
