"""Deploy's security defaults: the Glue security configuration, upload encryption, bucket checks.

With `kms_key_arn`, every Glue job gets a security configuration (SSE-KMS for the S3 data it
writes, CloudWatch logs and job bookmarks under that key) and artifacts are uploaded with SSE-KMS;
without it, uploads ask for SSE-S3 explicitly. A security configuration cannot be changed, so its
name carries a digest of the key: another key makes a new configuration and the jobs move to it.
The lake and artifacts buckets are checked (Block Public Access, a TLS-only bucket policy,
versioning of the artifacts bucket, the lake's default encryption); each gap is a warning naming
what to set, never a failure (deploy may lack the permission to read a setting: that is a
warning too).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from clickstream.config import Settings

# The four Block Public Access settings, all of which should be on.
PUBLIC_ACCESS_FLAGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


def security_configuration_name(env: str, kms_key_arn: str) -> str:
    """clickstream-<env>-<8 hex digits of the key ARN's SHA-256>."""
    digest = hashlib.sha256(kms_key_arn.encode()).hexdigest()[:8]
    return f"clickstream-{env}-{digest}"


def security_configuration(env: str, kms_key_arn: str) -> dict[str, Any]:
    """The CreateSecurityConfiguration request: SSE-KMS for S3 and CloudWatch, CSE-KMS for
    bookmarks (Glue's only bookmark mode), all under the key."""
    return {
        "Name": security_configuration_name(env, kms_key_arn),
        "EncryptionConfiguration": {
            "S3Encryption": [{"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": kms_key_arn}],
            "CloudWatchEncryption": {
                "CloudWatchEncryptionMode": "SSE-KMS",
                "KmsKeyArn": kms_key_arn,
            },
            "JobBookmarksEncryption": {
                "JobBookmarksEncryptionMode": "CSE-KMS",
                "KmsKeyArn": kms_key_arn,
            },
        },
    }


def ensure_security_configuration(glue: Any, spec: dict[str, Any]) -> str:
    """Create the security configuration when missing; created or unchanged."""
    try:
        glue.get_security_configuration(Name=spec["Name"])
        return "unchanged"
    except glue.exceptions.EntityNotFoundException:
        glue.create_security_configuration(**spec)
        return "created"


def upload_encryption(settings: Settings) -> dict[str, str]:
    """The put_object arguments of an upload: SSE-KMS with kms_key_arn, else SSE-S3."""
    if settings.kms_key_arn:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": str(settings.kms_key_arn)}
    return {"ServerSideEncryption": "AES256"}


def encrypted_as_wanted(head: dict[str, Any], wanted: dict[str, str]) -> bool:
    """Whether an object's head_object answer shows the wanted server-side encryption."""
    if head.get("ServerSideEncryption") != wanted["ServerSideEncryption"]:
        return False
    key = wanted.get("SSEKMSKeyId")
    return key is None or head.get("SSEKMSKeyId") in (key, key.split("/")[-1])


def bucket_warnings(
    s3: Any, bucket: str, key: str, *, versioned: bool = False, kms_key_arn: str | None = None
) -> list[str]:
    """What the bucket named by setting `key` lacks, one line each naming what to set."""
    warnings = []
    flags = _read(s3.get_public_access_block, bucket, "PublicAccessBlockConfiguration")
    if flags is None or not all(flags.get(f) for f in PUBLIC_ACCESS_FLAGS):
        warnings.append(
            f"{key}: bucket {bucket} does not block public access; turn on all four Block "
            "Public Access settings (aws s3api put-public-access-block)"
        )
    policy = _read(s3.get_bucket_policy, bucket, "Policy")
    if not denies_plain_http(policy):
        warnings.append(
            f"{key}: bucket {bucket} has no TLS-only policy; add a Deny of s3:* for "
            'aws:SecureTransport "false" on the bucket and its objects'
        )
    if versioned:
        status = (_read(s3.get_bucket_versioning, bucket, "Status") or "").lower()
        if status != "enabled":
            warnings.append(
                f"{key}: bucket {bucket} is not versioned; turn versioning on so a release "
                "overwritten by mistake can be restored"
            )
    if kms_key_arn:
        rules = _read(s3.get_bucket_encryption, bucket, "ServerSideEncryptionConfiguration")
        defaults = [
            r.get("ApplyServerSideEncryptionByDefault", {}) for r in (rules or {}).get("Rules", [])
        ]
        if not any(
            d.get("KMSMasterKeyID") in (kms_key_arn, kms_key_arn.split("/")[-1]) for d in defaults
        ):
            warnings.append(
                f"{key}: bucket {bucket} does not encrypt new objects with kms_key_arn by "
                "default; set its default encryption to SSE-KMS with that key (state files "
                "and Spark writes then take it too)"
            )
    return warnings


def _read(call: Any, bucket: str, field: str) -> Any:
    """A bucket setting, None when it is not set (or cannot be read)."""
    from botocore.exceptions import ClientError

    try:
        return call(Bucket=bucket).get(field)
    except ClientError:  # not set (NoSuch...), or not readable by the deployer (AccessDenied)
        return None


def denies_plain_http(policy: str | None) -> bool:
    """Whether a bucket policy denies requests without TLS (aws:SecureTransport false)."""
    if not policy:
        return False
    try:
        statements = json.loads(policy).get("Statement", [])
    except ValueError:
        return False
    for statement in statements if isinstance(statements, list) else [statements]:
        condition = statement.get("Condition", {})
        secure = {**condition.get("Bool", {}), **condition.get("BoolIfExists", {})}
        if (
            statement.get("Effect") == "Deny"
            and str(secure.get("aws:SecureTransport")).lower() == "false"
        ):
            return True
    return False


def tls_only_policy(bucket: str) -> dict[str, Any]:
    """The bucket policy statement the warning asks for (iam-policy prints it)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyPlainHttp",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
