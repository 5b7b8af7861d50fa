"""The storage contract, the same cases on both backends: a local directory, and S3 through a real S3
protocol server (moto's server mode, started once for the session)."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from datetime import timedelta

import pytest

from config import load_settings
from models.base import utcnow
from services.storage import open_storage
from services.storage.local import LocalStorage
from services.storage.s3 import S3Storage
from tests.support import first_pass_only

# The storage backends: no database in them (tests/support.py, first_pass_only).
pytestmark = first_pass_only

MB = 1 << 20


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    s3 = request.getfixturevalue("s3_server")
    # Each test under a prefix of its own in the session's bucket.
    return S3Storage.connect(s3["S3_BUCKET"], f"test-{uuid.uuid4().hex}/", endpoint_url=s3["S3_ENDPOINT_URL"],
                             region=s3["S3_REGION"], access_key_id=s3["S3_ACCESS_KEY_ID"],
                             secret_access_key=s3["S3_SECRET_ACCESS_KEY"])


class MadeOnTheFly(io.RawIOBase):
    """`size` random bytes, made as they are read (never held whole); remembers its largest read."""

    def __init__(self, size: int):
        self.left, self.largest, self.sha = size, 0, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self.largest = max(self.largest, len(buffer))
        chunk = os.urandom(min(len(buffer), self.left))
        buffer[:len(chunk)] = chunk
        self.left -= len(chunk)
        self.sha.update(chunk)
        return len(chunk)


def read_back(storage, key: str) -> tuple[str, int]:
    """The stored bytes' digest and length, read in 1 MB pieces."""
    sha, length = hashlib.sha256(), 0
    with storage.open(key) as stored:
        assert stored.readable()
        while piece := stored.read(MB):
            assert len(piece) <= MB
            sha.update(piece)
            length += len(piece)
    return sha.hexdigest(), length


def save(storage, key: str, data: bytes) -> int:
    return storage.save(key, io.BytesIO(data))


def test_a_stream_of_many_megabytes_goes_in_and_comes_back_in_pieces(storage):
    size = 12 * MB + 123  # past S3's multipart threshold: an upload in parts
    stream = MadeOnTheFly(size)
    assert storage.save("exports/big.bin", stream) == size
    assert stream.largest < size  # read in pieces, never whole
    assert read_back(storage, "exports/big.bin") == (stream.sha.hexdigest(), size)


def test_a_second_save_replaces_the_first(storage):
    save(storage, "exports/a.csv", b"first")
    assert save(storage, "exports/a.csv", b"second, longer") == 14
    with storage.open("exports/a.csv") as stored:
        assert stored.read() == b"second, longer"


def test_a_missing_key_is_file_not_found(storage):
    with pytest.raises(FileNotFoundError):
        storage.open("exports/none.csv")


def test_delete_removes_the_file_and_minds_no_missing_one(storage):
    save(storage, "imports/x/data.csv", b"a,b\n")
    storage.delete("imports/x/data.csv")
    with pytest.raises(FileNotFoundError):
        storage.open("imports/x/data.csv")
    storage.delete("imports/x/data.csv")


def test_stored_before_lists_the_keys_stored_before_a_moment(storage):
    before = utcnow() - timedelta(minutes=1)
    save(storage, "exports/one.csv", b"1")
    save(storage, "imports/u/two.xlsx", b"2")
    assert list(storage.stored_before(before)) == []
    assert sorted(storage.stored_before(utcnow() + timedelta(seconds=2))) == ["exports/one.csv",
                                                                               "imports/u/two.xlsx"]


@pytest.mark.parametrize("key", ["../x", "exports/../../x", "/etc/passwd", ""])
def test_keys_that_try_to_escape_are_refused(storage, key):
    for use in (lambda: save(storage, key, b"x"), lambda: storage.open(key), lambda: storage.delete(key)):
        with pytest.raises(ValueError):
            use()


def test_open_storage_picks_the_configured_backend(s3_server, monkeypatch):
    assert isinstance(open_storage(load_settings()), LocalStorage)
    for name, value in s3_server.items():
        monkeypatch.setenv(name, value)
    s3 = open_storage(load_settings())
    assert isinstance(s3, S3Storage) and s3.bucket == s3_server["S3_BUCKET"]
    assert open_storage(load_settings()) is s3  # one client per process and configuration
