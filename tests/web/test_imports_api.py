"""Imports over HTTP with the real worker: encodings, delimiters, decimal styles, aliases, XLSX, preview and
apply, the error report, stock, atomic imports and hostile files."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date

import pytest
import xlsxwriter
from sqlalchemy import func, select

from models import Category, InventoryMovement, Role
from services import sales
from services.imports.columns import canonical_headers
from tests.imports_support import catalogue, finished, upload
from tests.sales_support import branch, product, staff

pytestmark = pytest.mark.usefixtures("worker")


def applied(client, admin, content: bytes, name: str = "products.csv", **form) -> dict:
    return finished(upload(client, admin, content, name, mode="apply", **form))


def xlsx(rows: list[list], formula_at: tuple[int, int] | None = None) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("Catalogue")
    dates = book.add_format({"num_format": "yyyy-mm-dd"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, date):
                sheet.write_datetime(r, c, value, dates)
            elif isinstance(value, str) and value.startswith("="):
                sheet.write_formula(r, c, value, None, 24.5)  # Excel stores the value it computed
            elif value is not None:
                sheet.write(r, c, value)
    book.close()
    return out.getvalue()


CAFE = "Café con leche, ñandú"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"])
def test_each_encoding_is_detected(app, client, admin, encoding):
    text = f"sku,name,price\nE-1,{CAFE.replace(',', '')},1.50\nE-2,Crème brûlée,2\n"
    result = applied(client, admin, text.encode(encoding))
    assert result["counts"] == {"new": 2, "update": 0, "skip": 0, "error": 0}
    assert catalogue(app)["E-1"].name == CAFE.replace(",", "")
    assert catalogue(app)["E-2"].name == "Crème brûlée"


@pytest.mark.parametrize("delimiter,price,expected", [
    (",", '"1,234.56"', "1234.56"), (";", "1.234,56", "1234.56"), ("\t", "12.5", "12.50"), ("|", "7,25", "7.25")])
def test_delimiters_and_decimal_styles_are_detected(app, client, admin, delimiter, price, expected):
    text = delimiter.join(["sku", "name", "price"]) + "\n" + delimiter.join(["D-1", "Mug", price]) + "\n"
    result = applied(client, admin, text.encode())
    assert result["options"]["detected"]["delimiter"] == delimiter, result
    assert str(catalogue(app)["D-1"].price) == expected


def test_the_decimal_separator_given_reads_numbers_either_style_would(app, client, admin):
    # `1.234` is 1234 in the 1.234,56 style, and 1.234 (three places: refused for a price) in the other.
    applied(client, admin, b"sku;name;price\nS-1;Shelf;1.234\n", decimal_separator=",")
    assert str(catalogue(app)["S-1"].price) == "1234.00"
    undetected = applied(client, admin, b"sku;name;price\nS-2;Shelf;1.234\n")
    assert undetected["counts"]["error"] == 1 and "decimal places" in undetected["samples"]["error"][0]["message"]


def test_headers_match_aliases_case_and_accents_and_unknown_columns_are_reported(app, client, admin):
    text = "Item Code;PRODUCTO;Precio;CATEGORÍA;Código de barras;IVA;Colour\nA-1;Pan;1,20;Panadería;8400000000017;10%;red\n"
    result = applied(client, admin, text.encode())
    assert result["columns"] == {"sku": "Item Code", "name": "PRODUCTO", "price": "Precio", "category": "CATEGORÍA",
                                 "barcode": "Código de barras", "tax_rate": "IVA"}
    assert result["unknown_columns"] == ["Colour"]
    bread = catalogue(app)["A-1"]
    assert (bread.barcode, str(bread.tax_rate), str(bread.price)) == ("8400000000017", "0.1000", "1.20")
    with app.extensions["conveyor"].db.read() as session:
        assert session.scalar(select(Category.name).where(Category.id == bread.category_id)) == "Panadería"


def test_a_quoted_field_with_a_newline_and_numbering_by_record(app, client, admin):
    text = 'sku,name,price,description\nQ-1,Lamp,5,"two\nlines"\nQ-2,Bad,-1,x\n'
    result = applied(client, admin, text.encode("utf-8-sig"))
    assert catalogue(app)["Q-1"].description == "two\nlines"
    assert result["samples"]["error"][0]["row"] == 3  # the third record of the file, as a spreadsheet shows it


def test_a_missing_required_column_fails_at_once(app, client, admin):
    result = finished(upload(client, admin, b"code,title\nX,Y\n"), "failed")
    assert result["error"]["code"] == "missing_columns"
    assert result["error"]["details"]["missing"] == ["price"]


def test_xlsx_with_a_formula_a_date_and_an_empty_trailing_row(app, client, admin):
    content = xlsx([["SKU", "Name", "Price", "Description"], ["X-1", "Kettle", "=10*2.45", date(2026, 3, 1)],
                    ["X-2", "Teapot", 12.99, "plain"], [None, None, None, None]])
    result = applied(client, admin, content, "catalogue.xlsx")
    assert result["counts"] == {"new": 2, "update": 0, "skip": 0, "error": 0}
    assert result["options"]["detected"] == {"format": "xlsx", "sheet": "Catalogue", "decimal_separator": "."}
    kettle, teapot = catalogue(app)["X-1"], catalogue(app)["X-2"]
    assert (str(kettle.price), kettle.description, str(teapot.price)) == ("24.50", "2026-03-01", "12.99")


def test_preview_writes_nothing_and_apply_matches_it(app, client, admin):
    product(client, admin, "P-1", name="Old name", price="1.00")
    product(client, admin, "P-2", name="Same", price="2.00")
    text = "sku,name,price\nP-1,New name,1.00\nP-2,Same,2\nP-3,Fresh,3\nP-4,,4\n"
    preview = finished(upload(client, admin, text.encode()))
    assert preview["counts"] == {"new": 1, "update": 1, "skip": 1, "error": 1}
    assert preview["samples"]["update"] == [{"row": 2, "key": "P-1", "changes": ["name"]}]
    assert sorted(catalogue(app)) == ["P-1", "P-2"] and catalogue(app)["P-1"].name == "Old name"
    apply = client.post(f"/api/v1/imports/{preview['id']}/apply", headers={**admin, "Prefer": "wait=30"})
    result = finished(apply)
    assert result["counts"] == preview["counts"] and result["differs_from_preview"] == {}
    assert catalogue(app)["P-1"].name == "New name" and catalogue(app)["P-3"].name == "Fresh"
    again = client.post(f"/api/v1/imports/{preview['id']}/apply", headers=admin)
    assert again.status_code == 409 and again.json["error"]["code"] == "import_not_previewed"


def test_a_repeated_idempotency_key_answers_the_first_upload(app, client, admin):
    keyed = {**admin, "Idempotency-Key": "catalogue-2026-11"}
    first = finished(upload(client, keyed, b"sku,name,price\nK-1,Kept,1\n"))
    again = upload(client, keyed, b"sku,name,price\nK-2,Other,2\n")  # a retry that sent another file
    assert again.status_code == 200 and again.json["id"] == first["id"] and again.json["counts"] == first["counts"]
    other = finished(upload(client, {**admin, "Idempotency-Key": "catalogue-2026-12"}, b"sku,name,price\nK-2,O,2\n"))
    assert other["id"] != first["id"]
    listed = client.get("/api/v1/imports", headers=admin).json["items"]
    assert sorted(item["id"] for item in listed) == sorted([first["id"], other["id"]])


def test_apply_says_where_it_differs_from_the_preview(app, client, admin):
    preview = finished(upload(client, admin, b"sku,name,price\nC-1,Cup,1\nC-2,Jug,2\n"))
    product(client, admin, "C-1", name="Cup", price="1.00")  # made between the preview and the apply
    result = finished(client.post(f"/api/v1/imports/{preview['id']}/apply", headers={**admin, "Prefer": "wait=30"}))
    assert result["differs_from_preview"] == {"new": {"preview": 2, "apply": 1}, "skip": {"preview": 0, "apply": 1}}


def test_errors_csv_lists_every_bad_row_with_its_row_number(app, client, admin):
    rows = ["sku,name,price,colour"] + [f"R-{n},Row {n},{'oops' if n % 3 == 0 else n},blue" for n in range(1, 31)]
    result = applied(client, admin, ("\n".join(rows) + "\n").encode())
    assert result["counts"]["error"] == 10 and result["counts"]["new"] == 20
    answer = client.get(f"/api/v1/imports/{result['id']}/errors.csv", headers=admin)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    report = list(csv.reader(io.StringIO(answer.data.decode())))
    assert report[0] == ["sku", "name", "price", "colour", "_row", "_column", "_error"]
    assert [(r[0], int(r[4]), r[5]) for r in report[1:]] == [(f"R-{n}", n + 1, "price") for n in range(3, 31, 3)]


def test_on_existing_skip_leaves_existing_products(app, client, admin):
    product(client, admin, "K-1", name="Kept", price="1.00")
    result = applied(client, admin, b"sku,name,price\nK-1,Changed,9\nK-2,New,2\n", on_existing="skip")
    assert result["counts"] == {"new": 1, "update": 0, "skip": 1, "error": 0}
    assert catalogue(app)["K-1"].name == "Kept"


def test_stock_import_writes_import_movements_and_reconciles(app, client, admin):
    shop = branch(client, admin, "S01")["id"]
    mug = product(client, admin, "MUG")["id"]
    product(client, admin, "TEE", has_sizes=True, sizes=["S", "M"])
    text = "codigo;talla;cantidad;modo\nMUG;;10;set\nTEE;M;4;add\nTEE;XL;1;add\nNOPE;;1;set\nMUG;;3;add\n"
    result = applied(client, admin, text.encode(), "stock.csv", kind="stock", branch_id=shop)
    assert result["counts"] == {"new": 2, "update": 0, "skip": 0, "error": 3}
    again = applied(client, admin, b"sku,quantity\nMUG,7\n", "stock.csv", kind="stock", branch_id=shop)
    assert again["counts"]["update"] == 1
    with app.extensions["conveyor"].db.read() as session:
        moves = session.execute(select(InventoryMovement.product_id, InventoryMovement.quantity,
                                       InventoryMovement.reason, InventoryMovement.reference)
                                .where(InventoryMovement.product_id == mug).order_by(InventoryMovement.id)).all()
        assert [(m.quantity, m.reason.value) for m in moves] == [(10, "import"), (-3, "import")]
        assert moves[1].reference == f"import:{again['id']}"
        assert sales.reconcile_stock(session) == []


def test_an_atomic_import_with_a_bad_row_writes_nothing(app, client, admin):
    result = finished(upload(client, admin, b"sku,name,price\nT-1,Ok,1\nT-2,Bad,x\n", mode="apply", atomic=True),
                      "failed")
    assert result["error"]["code"] == "import_has_errors" and catalogue(app) == {}
    good = applied(client, admin, b"sku,name,price,category\nT-1,Ok,1,New cat\nT-2,Fine,2,New cat\n", atomic=True)
    assert good["counts"] == {"new": 2, "update": 0, "skip": 0, "error": 0} and sorted(catalogue(app)) == ["T-1", "T-2"]
    with app.extensions["conveyor"].db.read() as session:
        assert session.scalar(select(func.count()).select_from(Category)) == 1


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (200 * 1024 * 1024) + b">")
    return out.getvalue()


def _wide_sheet() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", '<worksheet><sheetData><row r="1"><c r="A1"/>'
                         '<c r="XFD1"><v>1</v></c></row></sheetData></worksheet>')
    return out.getvalue()


@pytest.mark.parametrize("name,content,code", [
    ("products.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "unsupported_file_type"),
    ("products.xlsx", _zip_bomb(), "zip_bomb"),
    ("products.xlsx", _wide_sheet(), "too_many_columns"),
    ("products.xlsx", b"PK\x03\x04 not really a zip", "unreadable_xlsx"),
    ("products.csv", b"sku,name,price\n" + b"x" * (3 * 1024 * 1024), "line_too_long"),
    ("products.csv", b"sku,name,price\n" + b"a," * 500 + b"\n", "too_many_columns"),
    ("products.csv", b"\x00\x01\x02\x03" * 1000, "not_text"),
])
def test_hostile_files_fail_with_a_clear_error(app, client, admin, name, content, code):
    result = finished(upload(client, admin, content, name), "failed")
    assert result["error"]["code"] == code, result["error"]


def test_uploads_are_checked_at_the_door(app, client, admin, make_app):
    no_file = client.post("/api/v1/imports", data={"kind": "products"}, headers=admin,
                          content_type="multipart/form-data")
    assert no_file.status_code == 422 and no_file.json["error"]["code"] == "file_required"
    no_branch = upload(client, admin, b"sku,quantity\nA,1\n", kind="stock")
    assert no_branch.status_code == 422 and "branch_id" in no_branch.json["error"]["details"]["form"]
    as_json = client.post("/api/v1/imports", json={"kind": "products"}, headers=admin)
    assert as_json.status_code == 415
    small = make_app(IMPORT_MAX_BYTES="1000").test_client()
    too_big = upload(small, staff(app, Role.admin), b"sku,name,price\n" + b"A,B,1\n" * 400)
    assert too_big.status_code == 413 and too_big.json["error"]["details"]["limit_bytes"] == 1000
    seller = staff(app, Role.seller)
    assert upload(client, seller, b"sku,name,price\n").status_code == 403


def test_a_file_in_the_canonical_columns_of_the_catalogue_imports_back_unchanged(app, client, admin):
    # What an export writes (services/imports/columns.py): every row of it is a `skip`.
    shirts = client.post("/api/v1/categories", json={"name": "Shirts"}, headers=admin).json
    product(client, admin, "RT-1", name="Tee, blue", price="19.90", cost="7.50", tax_rate="0.21",
            category_id=shirts["id"], has_sizes=True, sizes=["S", "M"], barcode="8400000000011",
            description="two\nlines", min_stock=3)
    product(client, admin, "RT-2", name="Mug", price="5.00", active=False)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(canonical_headers("products"))
    writer.writerow(["RT-1", "Tee, blue", "19.90", "7.50", "0.2100", "Shirts", "S|M", "8400000000011", "true",
                     "two\nlines", "3"])
    writer.writerow(["RT-2", "Mug", "5.00", "0.00", "0.0000", "", "", "", "false", "", "0"])
    result = finished(upload(client, admin, out.getvalue().encode()))
    assert result["counts"] == {"new": 0, "update": 0, "skip": 2, "error": 0}, result["samples"]
