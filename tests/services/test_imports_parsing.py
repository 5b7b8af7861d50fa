"""The pure parts of imports: number styles, header matching, encoding and delimiter detection, and reading
back what exports write."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from schemas.imports import ProductRowSchema
from services.errors import DomainError
from services.exports.cells import safe_cell, unprotected
from services.imports.columns import canonical_headers, match_headers, normalise, sizes_cell
from services.imports.numbers import decimal_style, detect_decimal_separator, parse_decimal
from services.imports.reading import cell_text, detect_encoding, sniff_delimiter


# One test per concern, several cases each: every test pays for the suite's per-test table cleaning.
def test_decimal_styles_and_parsing():
    styles = {"1234.56": ".", "1,234.56": ".", "1.234,56": ",", "12,5": ",", "1,234": None, "1.234": None,
              "12": None, "1.234.567": ",", "21%": None, "10,5%": ","}
    assert {text: decimal_style(text) for text in styles} == styles
    parsed = {("1,234.56", "."): "1234.56", ("1.234,56", ","): "1234.56", ("7,25", ","): "7.25",
              ("1 234,5", ","): "1234.5"}
    assert {case: str(parse_decimal(*case)) for case in parsed} == parsed
    for text, separator in (("1,23.4", "."), ("12.5", ","), ("abc", ".")):
        with pytest.raises(ValueError):
            parse_decimal(text, separator)


def test_a_file_mixing_both_styles_is_refused():
    assert detect_decimal_separator(["1.234,50", "12", "3,5"]) == ","
    with pytest.raises(DomainError) as caught:
        detect_decimal_separator(["1.5", "2,5"])
    assert caught.value.code == "ambiguous_decimal_separator"


def test_headers_match_aliases_whatever_their_case_accents_and_spacing():
    assert normalise("  Código_de-Barras ") == "codigo de barras"
    match = match_headers("products", ["ITEM CODE", "Nombre", "PVP", "Categoría", "Notes", "Colour"])
    assert match.positions == {"sku": 0, "name": 1, "price": 2, "category": 3, "description": 4}
    assert match.unknown == ["Colour"]
    assert canonical_headers("stock") == ["sku", "size", "quantity", "mode"]
    assert match_headers("products", canonical_headers("products")).unknown == []


def test_missing_and_repeated_columns_fail_at_once():
    with pytest.raises(DomainError) as missing:
        match_headers("stock", ["talla", "modo"])
    assert missing.value.code == "missing_columns" and missing.value.details["missing"] == ["sku", "quantity"]
    with pytest.raises(DomainError) as twice:
        match_headers("products", ["sku", "codigo", "name", "price"])
    assert twice.value.code == "duplicate_columns"


def test_encodings_and_delimiters_are_detected():
    text = "sku;name;price\nA-1;Café crème “spécial” – ñandú;1,50\n" * 20
    for encoding in ("utf-8", "utf-8-sig", "utf-16", "cp1252"):
        assert detect_encoding(text.encode(encoding)) == encoding
    lines = {"sku,name,price": ",", "sku;name;price": ";", "sku\tname": "\t", '"a,b"|c|d': "|", "sku": ","}
    assert {line: sniff_delimiter(line) for line in lines} == lines


def test_what_exports_write_reads_back_as_it_was():
    texts = ["=SUM(A1)", "'=SUM(A1)", "''+1", "-5 off", "@home", "\tx", "'plain'", "plain", ""]
    assert [unprotected(safe_cell(t)) for t in texts] == texts
    assert safe_cell("=1") == "'=1" and unprotected("'plain'") == "'plain'"
    # XLSX numbers come as floats: the text a person would see, never float noise or an exponent.
    assert [cell_text(f) for f in (0.1 + 0.2, 10.5, 3.0, 1e-05, 9999999999.99, True)] == [
        "0.3", "10.5", "3", "0.00001", "9999999999.99", "true"]
    schema = ProductRowSchema()
    assert str(schema.fields["price"].deserialize("10.5")) == "10.50"  # the exact Decimal at the column's places
    assert str(schema.fields["tax_rate"].deserialize("21%")) == "0.2100"
    with pytest.raises(ValidationError, match="at most 2 decimal places"):
        schema.fields["price"].deserialize("10.505")
    sizes = [["S", "M"], ["10/12"], ["10/12", "S"], []]
    assert [schema.fields["sizes"].deserialize(sizes_cell(s)) if s else [] for s in sizes] == sizes
    assert schema.fields["sizes"].deserialize("S, M; L/XL") == ["S", "M", "L", "XL"]


def test_fast_paths_read_what_the_fields_read_and_leave_the_rest_to_them():
    cells = {"price": ["10.5", "0", "9999999999.99", "99999999999", "-1", "10.505", "1,234.5", "10,5"],
             "tax_rate": ["0.21", "21", "1", "21%", "0,21"], "min_stock": ["3", "-3", "1e3", "4294967296"],
             "sku": ["ABC-1", "a b", "é"], "name": ["Café", "=x", "a\x00", "a\ud800", "x" * 300],
             "barcode": ["8400000000011", "84 00"]}
    taken = 0
    for separator in ".,":
        schema = ProductRowSchema(decimal_separator=separator)
        paths = schema.fast_paths()
        for name, texts in cells.items():
            for text in texts:
                fast = paths[name](text)
                if fast is not None:  # read fast only where the field reads the same value
                    taken += 1
                    assert (fast, str(fast)) == (value := schema.fields[name].deserialize(text), str(value))
    assert taken >= 16
