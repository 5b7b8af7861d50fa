"""The catalogue service on its own: a duplicate that slips past the check is still reported by its code."""

from __future__ import annotations

import pytest

from models import Product
from services import sales
from services.errors import DomainError
from services.sales import catalogue


def test_a_duplicate_sku_that_wins_the_race_is_still_sku_taken(session, monkeypatch):
    """Two requests racing for one SKU: both pass the check, the constraint stops the second, which
    still answers `sku_taken` (not a bare conflict, nor a 500)."""
    session.add(Product(sku="MUG", name="Mug", price=1))
    session.flush()
    real, calls = catalogue._refuse_taken, []

    def first_check_misses(*args):
        calls.append(args)
        if len(calls) > 1:
            real(*args)

    monkeypatch.setattr(catalogue, "_refuse_taken", first_check_misses)
    with pytest.raises(DomainError) as refused:
        sales.create_product(session, {"sku": "MUG", "name": "Other mug", "price": 2})
    assert refused.value.code == "sku_taken" and refused.value.status == 409
    assert len(calls) == 2
