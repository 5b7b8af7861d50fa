"""Helpers for the import tests: upload a file over HTTP, read the catalogue back."""

from __future__ import annotations

import io

from sqlalchemy import select

from models import Product


def upload(client, headers, content: bytes, name: str = "products.csv", *, wait: int = 30, **form):
    """POST /api/v1/imports (products, preview unless told); waits for the job up to `wait` seconds."""
    fields = {"kind": "products", "mode": "preview",
              **{k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in form.items()}}
    fields["file"] = (io.BytesIO(content), name)
    extra = {"Prefer": f"wait={wait}"} if wait else {}
    return client.post("/api/v1/imports", data=fields, headers={**headers, **extra},
                       content_type="multipart/form-data")


def finished(answer, status: str = "succeeded") -> dict:
    assert answer.status_code in (200, 202), answer.json
    assert answer.json["status"] == status, answer.json
    return answer.json


def catalogue(app) -> dict:
    """{sku: product} of every product."""
    with app.extensions["conveyor"].db.read() as session:
        return {p.sku: p for p in session.scalars(select(Product))}
