"""Digest anchors in S3 with Object Lock in compliance mode: an anchored digest cannot be
deleted or overwritten by anyone, the bucket's owner included, until its retention ends
(a PUT on the same name only adds a version; `latest` reads every version)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field

from audit.anchor import anchor_name
from audit.digest import Digest
from audit.record import canonical


class S3AnchorConfig(BaseModel):
    type: Literal["s3"] = "s3"
    bucket: str
    prefix: str = "audit-digests"
    endpoint: str | None = None  # None: AWS itself
    region: str = "eu-west-1"
    retention_days: int = Field(default=3650, ge=1)  # at least the log's legal retention
    timeout_s: float = Field(default=2.0, gt=0)


class S3Anchor:
    def __init__(self, config: S3AnchorConfig) -> None:
        import boto3
        from botocore.config import Config

        self.config = config
        self._s3: Any = boto3.client(
            "s3", endpoint_url=config.endpoint, region_name=config.region,
            config=Config(connect_timeout=config.timeout_s, read_timeout=config.timeout_s,
                          retries={"max_attempts": 2}))

    def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock enabled (it can only be enabled at creation)."""
        from botocore.exceptions import ClientError

        try:
            self._s3.create_bucket(
                Bucket=self.config.bucket, ObjectLockEnabledForBucket=True,
                CreateBucketConfiguration={"LocationConstraint": self.config.region})
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou",
                                                     "BucketAlreadyExists"):
                raise

    def put(self, digest: Digest) -> None:
        until = datetime.now(UTC) + timedelta(days=self.config.retention_days)
        self._s3.put_object(Bucket=self.config.bucket,
                            Key=f"{self.config.prefix}/{anchor_name(digest)}",
                            Body=canonical(digest.to_json()), ObjectLockMode="COMPLIANCE",
                            ObjectLockRetainUntilDate=until, ChecksumAlgorithm="SHA256")

    def _newest(self, prefix: str) -> str | None:
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.config.bucket, Prefix=prefix, Delimiter="/")
        names = [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]
        return max(names) if names else None

    def latest(self) -> Digest | None:
        prefix: str | None = f"{self.config.prefix}/"
        for _ in range(4):  # year, month, day, hour
            prefix = self._newest(prefix)
            if prefix is None:
                return None
        pages = self._s3.get_paginator("list_object_versions").paginate(
            Bucket=self.config.bucket, Prefix=prefix)
        versions = sorted(((v["Key"], v["VersionId"]) for page in pages
                           for v in page.get("Versions", [])), reverse=True)
        for key, version in versions:  # newest name first
            body = self._s3.get_object(Bucket=self.config.bucket, Key=key,
                                       VersionId=version)["Body"].read()
            digest = Digest.from_json(orjson.loads(body))
            # A version written later under a newer name but holding an older digest is not
            # the newest: the name and the signed time must agree.
            if key.endswith(f"/{digest.issued_at}.json"):
                return digest
        return None

    def close(self) -> None:
        self._s3.close()
