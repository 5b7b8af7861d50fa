"""The columns of catalogue and stock files: each field's canonical header (what exports write) and the
other headers it is known by (what imports accept), matched case-, accent- and spacing-insensitively.

`COLUMNS[kind]` is {field: Column}; `canonical_headers(kind)` the header row an export writes, which
imports back unchanged; `match_headers(kind, headers)` maps a file's header row to fields.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from services.errors import DomainError


@dataclass(frozen=True)
class Column:
    header: str  # canonical
    aliases: tuple[str, ...] = ()
    required: bool = False


COLUMNS: dict[str, dict[str, Column]] = {
    "products": {
        "sku": Column("sku", ("código", "codigo", "item code", "item", "code", "product code", "reference", "ref",
                              "referencia", "article", "artículo"), required=True),
        "name": Column("name", ("nombre", "product", "product name", "producto", "title", "descripción corta",
                                "item name"), required=True),
        "price": Column("price", ("precio", "sale price", "precio venta", "pvp", "unit price", "retail price",
                                  "prix"), required=True),
        "cost": Column("cost", ("coste", "costo", "cost price", "precio coste", "purchase price")),
        "tax_rate": Column("tax_rate", ("tax", "tax rate", "vat", "iva", "impuesto", "tva")),
        "category": Column("category", ("categoría", "categoria", "family", "familia", "department", "group")),
        "sizes": Column("sizes", ("size", "tallas", "talla", "variants")),
        "barcode": Column("barcode", ("ean", "ean13", "upc", "gtin", "código de barras", "codigo barras")),
        "active": Column("active", ("activo", "enabled", "status", "on sale")),
        "description": Column("description", ("descripción", "descripcion", "details", "notes")),
        "min_stock": Column("min_stock", ("minimum stock", "stock mínimo", "stock minimo", "reorder level")),
    },
    "stock": {
        "sku": Column("sku", ("código", "codigo", "item code", "item", "code", "product code", "reference", "ref",
                              "referencia"), required=True),
        "size": Column("size", ("talla", "variant")),
        "quantity": Column("quantity", ("qty", "cantidad", "stock", "units", "unidades", "on hand", "existencias"),
                           required=True),
        "mode": Column("mode", ("modo", "operation")),
    },
}
SIZES_SEPARATOR = "|"  # between a product's sizes in one cell, as exports write them
SEPARATORS = re.compile(r"[\s_\-./]+")
OTHER_SIZE_SEPARATORS = re.compile(r"[,;/]")  # what an import splits sizes on in a cell without `|`


def normalise(header: str) -> str:
    """`Código_de Barras ` -> `codigo de barras`: lower case, no accents, one space between words."""
    decomposed = unicodedata.normalize("NFKD", header.strip().lstrip("\ufeff"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return SEPARATORS.sub(" ", bare.casefold()).strip()


def _lookup(kind: str) -> dict[str, str]:
    table = {}
    for field, column in COLUMNS[kind].items():
        for name in (field, column.header, *column.aliases):
            table.setdefault(normalise(name), field)
    return table


LOOKUPS = {kind: _lookup(kind) for kind in COLUMNS}


def sizes_cell(sizes: list[str] | None) -> str:
    """A product's sizes as one cell that imports back as the same sizes: `S|M`; a lone `10/12` as `10/12|`."""
    cell = SIZES_SEPARATOR.join(sizes or ())
    return cell + SIZES_SEPARATOR if len(sizes or ()) == 1 and OTHER_SIZE_SEPARATORS.search(cell) else cell


def canonical_headers(kind: str) -> list[str]:
    return [column.header for column in COLUMNS[kind].values()]


@dataclass(frozen=True)
class HeaderMatch:
    positions: dict[str, int]  # field -> its column's index in the file
    unknown: list[str]  # headers that name no field (reported, not fatal)


def match_headers(kind: str, headers: list[str]) -> HeaderMatch:
    """Which column holds which field; a missing required field, or one named twice, fails at once."""
    lookup, positions, unknown, twice = LOOKUPS[kind], {}, [], []
    for index, header in enumerate(headers):
        field = lookup.get(normalise(header))
        if field is None:
            if header.strip():
                unknown.append(header)
        elif field in positions:
            twice.append(header)
        else:
            positions[field] = index
    if twice:
        raise DomainError("some columns name a field another column already gives", code="duplicate_columns",
                          details={"columns": twice})
    missing = [COLUMNS[kind][field].header for field, column in COLUMNS[kind].items()
               if column.required and field not in positions]
    if missing:
        raise DomainError("the file lacks required columns", code="missing_columns",
                          details={"missing": missing, "found": headers[:50]})
    return HeaderMatch(positions, unknown)
