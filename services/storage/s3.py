"""The S3 backend: any S3-compatible store (AWS, MinIO, R2, ...), streamed both ways.

A save is a multipart upload of bounded parts (at most PART_SIZE × CONCURRENCY bytes in memory); an
open is the object's streaming body, read as the caller reads it. Keys live under S3_PREFIX.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import BinaryIO, Iterator

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

PART_SIZE = 8 << 20
CONCURRENCY = 4
TRANSFER = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, max_concurrency=CONCURRENCY)
# Parts read ahead of their upload (s3transfer's default: 10); boto3's constructor does not take it.
TRANSFER.max_in_memory_upload_chunks = CONCURRENCY
MISSING = {"NoSuchKey", "404", "NotFound"}


class S3Storage:
    def __init__(self, client, bucket: str, prefix: str = ""):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def connect(cls, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, region: str | None = None,
                access_key_id: str | None = None, secret_access_key: str | None = None) -> "S3Storage":
        """A client of its own (boto3 clients are thread-safe; sessions are not). Without keys, boto3's
        default chain (environment, profile, instance role). A custom endpoint is addressed by path
        (bucket.host names rarely resolve for MinIO and the like)."""
        config = Config(s3={"addressing_style": "path" if endpoint_url else "auto"},
                        retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=60)
        client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key, config=config)
        return cls(client, bucket, prefix)

    def _key(self, key: str) -> str:
        """No empty, `.` or `..` segment: a key means the same object here as on a local disk."""
        parts = key.split("/")
        if not key or any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"storage key not a plain relative name: {key!r}")
        return self.prefix + key

    def save(self, key: str, stream: BinaryIO) -> int:
        name = self._key(key)
        self.client.upload_fileobj(stream, self.bucket, name, Config=TRANSFER)
        return self.client.head_object(Bucket=self.bucket, Key=name)["ContentLength"]

    def open(self, key: str) -> BinaryIO:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING:
                raise FileNotFoundError(key) from exc
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))  # S3 answers 204 for a missing key too

    def stored_before(self, moment: datetime) -> Iterator[str]:
        moment = moment.replace(tzinfo=moment.tzinfo or timezone.utc)
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", ()):
                if item["LastModified"] < moment:
                    yield item["Key"][len(self.prefix):]
