"""Exports: a file of the catalogue, the stock or the sales, made by a job and kept in storage until it expires.

An export's id is its job's id: the job is the truth about the work (queued, running, failed), the
export about the file (its key in storage, size, rows, when it expires).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

STORAGE_KEY_LENGTH, FILENAME_LENGTH = 255, 100


class ExportKind(str, enum.Enum):
    products = "products"
    stock = "stock"
    sales = "sales"


class ExportFormat(str, enum.Enum):
    csv = "csv"
    xlsx = "xlsx"


class ExportStatus(str, enum.Enum):
    pending = "pending"  # its job has not written the file yet (the job says whether it runs, failed ...)
    ready = "ready"
    expired = "expired"  # the file is deleted, or about to be (STORAGE_EXPIRE_HOURS)


def _enum(cls, name):
    return Enum(cls, name=name, native_enum=False, length=16, values_callable=lambda kinds: [k.value for k in kinds])


class Export(Base):
    __tablename__ = "exports"
    __table_args__ = (
        Index("ix_exports_owner_created", "owner_id", "created_at"),
        Index("ix_exports_status_expires", "status", "expires_at"),  # the expiry job's scan
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # its job's id
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[ExportKind] = mapped_column(_enum(ExportKind, "export_kind"))
    format: Mapped[ExportFormat] = mapped_column(_enum(ExportFormat, "export_format"))
    filters: Mapped[dict]  # as applied: a manager's branch filled in
    status: Mapped[ExportStatus] = mapped_column(_enum(ExportStatus, "export_status"), default=ExportStatus.pending)
    filename: Mapped[str] = mapped_column(String(FILENAME_LENGTH))  # what the download is called
    storage_key: Mapped[str | None] = mapped_column(String(STORAGE_KEY_LENGTH))
    rows: Mapped[int | None] = mapped_column(BigInteger)
    size: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
