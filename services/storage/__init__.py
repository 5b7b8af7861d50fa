"""Where uploaded and exported files live, so every worker can read them: a local directory or an S3 bucket.

Keys are relative names made by the caller (`imports/<uuid>/<file name>`); the backends never see a path
a client chose.
"""

from __future__ import annotations

from datetime import datetime
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
    """The backend the settings name."""
    from services.storage.local import LocalStorage

    return LocalStorage(settings.upload_dir)
