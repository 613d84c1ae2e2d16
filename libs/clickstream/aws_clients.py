"""Every AWS client of the product, made with one botocore configuration.

Retries in botocore's standard mode (exponential backoff with jitter, throttling and transient
errors retried, 10 attempts), bounded connect and read timeouts so a stalled endpoint fails a
call instead of hanging a run, and the configured region. The endpoint comes from boto3's own
configuration, so AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_<SERVICE>) points every client at a
local endpoint such as a moto server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config

MAX_ATTEMPTS = 10
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60


def botocore_config(region: str | None = None) -> Config:
    """The one client configuration: standard retries, timeouts, region."""
    from botocore.config import Config

    return Config(
        region_name=region,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
    )


def aws_client(
    service: str, region: str | None = None, session: boto3.Session | None = None
) -> Any:
    """A boto3 client for service with botocore_config (region None: boto3's own default)."""
    import boto3

    return (session or boto3.Session()).client(service, config=botocore_config(region))


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
