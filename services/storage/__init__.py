"""Where uploaded and exported files live, so every worker can read them: a local directory or an S3 bucket.

Keys are relative names made by the caller (`imports/<uuid>/<file name>`); the backends never see a path
a client chose.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import BinaryIO, Iterator, Protocol


class Storage(Protocol):
    def save(self, key: str, stream: BinaryIO) -> int:
        """Store the stream's bytes under `key` (read in chunks, never whole); returns the size."""

    def open(self, key: str) -> BinaryIO:
        """A readable binary file object of the stored bytes; FileNotFoundError when there is none."""

    def delete(self, key: str) -> None:
        """Remove `key`; no error when it is gone already."""

    def stored_before(self, moment: datetime) -> Iterator[str]:
        """The keys stored before `moment` (UTC), for the expiry job."""


def open_storage(settings) -> Storage:
    """The backend the settings name (STORAGE_BACKEND): `local` (UPLOAD_DIR) or `s3` (S3_*)."""
    if settings.storage_backend == "s3":
        return _s3(settings.s3_bucket, settings.s3_prefix, settings.s3_endpoint_url, settings.s3_region,
                   settings.s3_access_key_id, settings.s3_secret_access_key)
    from services.storage.local import LocalStorage

    return LocalStorage(settings.upload_dir)


@lru_cache(maxsize=4)
def _s3(bucket, prefix, endpoint_url, region, access_key_id, secret_access_key) -> Storage:
    """One client per process and configuration: making a boto3 client costs tens of milliseconds."""
    from services.storage.s3 import S3Storage

    return S3Storage.connect(bucket, prefix, endpoint_url=endpoint_url, region=region, access_key_id=access_key_id,
                             secret_access_key=secret_access_key)
