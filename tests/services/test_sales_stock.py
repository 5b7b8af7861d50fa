"""The stock service on its own: conditional updates, the global row order, the bounds, the reconciliation."""

from __future__ import annotations

import pytest
from sqlalchemy import event, update
from sqlalchemy.exc import IntegrityError

from models import Branch, InventoryMovement, MovementReason, Product, Stock
from services import sales
from services.errors import DomainError
from services.sales.stock import MAX_QUANTITY, Move, apply


@pytest.fixture
def shop(session):
    branches = [Branch(name=f"B{n}", code=f"B{n}") for n in range(2)]
    mug = Product(sku="MUG", name="Mug", price=1)
    shirt = Product(sku="SHIRT", name="Shirt", price=1, has_sizes=True, sizes=["S", "M"])
    session.add_all([*branches, mug, shirt])
    session.flush()
    return {"a": branches[0].id, "b": branches[1].id, "mug": mug.id, "shirt": shirt.id}


def quantity(session, product_id, branch_id, size="") -> int | None:
    row = session.query(Stock).filter_by(product_id=product_id, branch_id=branch_id, size=size) \
        .populate_existing().one_or_none()
    return None if row is None else row.quantity


def test_an_increase_creates_the_row_and_a_decrease_needs_available_stock(session, shop):
    a, mug = shop["a"], shop["mug"]
    sales.adjust(session, a, [{"product_id": mug, "size": "", "quantity": 5}], reason="in", reference="r1",
                 user_id=None)
    assert quantity(session, mug, a) == 5
    session.execute(update(Stock).values(reserved=2))  # an order holds two
    with pytest.raises(DomainError) as refused:
        sales.adjust(session, a, [{"product_id": mug, "size": "", "quantity": -4}], reason="out", reference="r2",
                     user_id=None)
    assert refused.value.code == "insufficient_stock"
    assert refused.value.details["lines"] == [{"product_id": mug, "branch_id": a, "size": "", "quantity": -4,
                                               "available": 3, "problem": "insufficient_stock"}]
    sales.adjust(session, a, [{"product_id": mug, "size": "", "quantity": -3}], reason="out", reference="r3",
                 user_id=None)
    assert quantity(session, mug, a) == 2
    # The quantity agrees with its movements; the two reserved by hand are held by no pending order.
    assert [(m["check"], m["reserved"], m["expected"]) for m in sales.reconcile_stock(session)] == [
        ("reserved_equals_pending_orders", 2, 0)]


def test_reservations_move_reserved_within_the_available_stock_and_write_no_movement(session, shop):
    a, mug = shop["a"], shop["mug"]
    apply(session, [Move(mug, a, "", 5, MovementReason.import_)], reference="r", user_id=None)

    def move(quantity, reserved):
        return apply(session, [Move(mug, a, "", quantity, MovementReason.order_reserved, reserved=reserved)],
                     reference="order:1", user_id=None)[0]

    assert (move(0, 4)["quantity"], move(0, 1)["reserved"]) == (5, 5)  # reserve up to the quantity
    with pytest.raises(DomainError) as refused:
        move(0, 1)  # nothing left available
    assert refused.value.details["lines"][0]["available"] == 0
    sold = move(-2, -2)  # a confirmed order: the reservation becomes the decrement
    assert (sold["quantity"], sold["reserved"]) == (3, 3)
    assert move(0, -3)["reserved"] == 0  # released
    with pytest.raises(DomainError):
        move(0, -1)  # more than is reserved
    assert sorted(session.query(InventoryMovement.quantity).populate_existing().all()) == [(-2,), (5,)]


def test_a_decrease_of_a_row_that_does_not_exist_fails(session, shop):
    with pytest.raises(DomainError) as refused:
        sales.adjust(session, shop["a"], [{"product_id": shop["shirt"], "size": "S", "quantity": -1}],
                     reason="x", reference="r", user_id=None)
    assert refused.value.code == "insufficient_stock" and refused.value.details["lines"][0]["available"] == 0


def test_an_increase_past_the_column_never_overflows(session, shop):
    a, mug = shop["a"], shop["mug"]
    apply(session, [Move(mug, a, "", MAX_QUANTITY - 1, MovementReason.import_)], reference="r", user_id=None)
    with pytest.raises(DomainError) as refused:
        apply(session, [Move(mug, a, "", 2, MovementReason.adjustment)], reference="r", user_id=None)
    assert refused.value.code == "quantity_too_large"
    assert quantity(session, mug, a) == MAX_QUANTITY - 1


@pytest.mark.parametrize("line,code", [
    ({"product_id": 999, "size": ""}, "unknown_product"),
    ({"product_id": "shirt", "size": ""}, "invalid_size"),
    ({"product_id": "mug", "size": "S"}, "invalid_size"),
])
def test_lines_must_name_a_product_and_one_of_its_sizes(session, shop, line, code):
    line = {**line, "product_id": shop.get(line["product_id"], line["product_id"]), "quantity": 1}
    with pytest.raises(DomainError) as refused:
        sales.check_lines(session, [shop["a"]], [line])
    assert refused.value.code == code and refused.value.details["lines"][0]["line"] == 0


def test_rows_are_taken_in_one_global_order(session, shop):
    a, b, mug, shirt = shop["a"], shop["b"], shop["mug"], shop["shirt"]
    taken = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE STOCK"):
            bound = context.compiled_parameters[0]
            taken.append((bound["product_id_1"], bound["size_1"], bound["branch_id_1"]))

    moves = [Move(shirt, b, "S", 1, MovementReason.adjustment), Move(mug, b, "", 1, MovementReason.adjustment),
             Move(shirt, a, "M", 1, MovementReason.adjustment), Move(mug, a, "", 1, MovementReason.adjustment),
             Move(shirt, a, "S", 1, MovementReason.adjustment)]
    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        apply(session, moves, reference="r", user_id=None)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    expected = sorted((m.product_id, m.size, m.branch_id) for m in moves)
    assert taken == expected


def test_the_database_refuses_negative_stock_and_overreservation(session, shop):
    apply(session, [Move(shop["mug"], shop["a"], "", 1, MovementReason.adjustment)], reference="r", user_id=None)
    for values in ({"quantity": -1, "reserved": 0}, {"quantity": 1, "reserved": 2}):
        with pytest.raises(IntegrityError), session.begin_nested():
            session.execute(update(Stock).values(**values))


def test_reconciliation_lists_every_kind_of_mismatch(session, shop):
    a, b, mug = shop["a"], shop["b"], shop["mug"]
    apply(session, [Move(mug, a, "", 3, MovementReason.adjustment)], reference="r", user_id=None)
    session.execute(update(Stock).values(quantity=5))
    session.add(InventoryMovement(product_id=mug, branch_id=b, size="", quantity=2, reason=MovementReason.import_))
    session.flush()
    assert sales.reconcile_stock(session) == [
        {"check": "quantity_equals_movements", "product_id": mug, "branch_id": a, "size": "", "quantity": 5,
         "expected": 3},
        {"check": "movements_without_stock_row", "product_id": mug, "branch_id": b, "size": "", "expected": 2}]

