"""Exports of the catalogue, the stock and the sales as CSV or XLSX: records, sources, files."""

from services.exports.files import MEDIA_TYPES, write_export
from services.exports.records import (Expired, NotReady, downloadable, expire_due, get, mark_ready, page_for, record,
                                      storage_key, view)

__all__ = ["Expired", "MEDIA_TYPES", "NotReady", "downloadable", "expire_due", "get", "mark_ready", "page_for",
           "record", "storage_key", "view", "write_export"]
