"""The local-directory backend: the default, and a shared volume in compose."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterator

CHUNK = 1 << 20


class LocalStorage:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"storage key outside the storage directory: {key!r}")
        return path

    def save(self, key: str, stream: BinaryIO) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with open(partial, "wb") as out:
            shutil.copyfileobj(stream, out, CHUNK)
        os.replace(partial, path)  # readers never see half a file
        return path.stat().st_size

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def stored_before(self, moment: datetime) -> Iterator[str]:
        cutoff = moment.replace(tzinfo=moment.tzinfo or timezone.utc).timestamp()
        for path in self.root.rglob("*"):
            if path.is_file() and path.stat().st_mtime < cutoff:
                yield path.relative_to(self.root).as_posix()
