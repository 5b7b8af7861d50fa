"""Exports: rows/s and peak memory of a products export of N rows, as the export job writes it (a
server-side cursor in chunks, CSV and constant-memory XLSX), against a baseline that reads the whole
table at once (`.all()`) and then writes the same CSV.

Each variant runs in a fresh process, so that its peak RSS (ru_maxrss) is its own; the figure is the
growth over the process's RSS before the export. Goals: streamed CSV ≥ 0.8 × the baseline's rows/s,
and the streamed exports' memory growth flat in N (≤ 1/4 of the baseline's at the default N).

    python bench/exports.py              # 200,000 rows, ~1 min
    python bench/exports.py --quick      # 50,000 rows
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import (DATABASE_URL, DB_NAME, PG_ADMIN_DSN, ROOT, Children, base_env,  # noqa: E402
                           code_version, drop_database, log, ratio_line, run, use_env_here)

VARIANTS = ("baseline-csv", "streamed-csv", "streamed-xlsx")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(variant: str) -> dict:
    """In a fresh process: one export of the products table; rows, seconds, peak RSS growth."""
    from config import load_settings
    from models import ExportFormat, ExportKind
    from models.database import make_database
    from services.exports.files import WRITERS, write_export
    from services.exports.sources import source

    db = make_database(load_settings().database_url)
    with db.read() as session:
        session.execute(source(session, ExportKind.products, {}).stmt.limit(1)).all()  # connected, warm
    before = rss_mb()
    fmt = ExportFormat.xlsx if variant.endswith("xlsx") else ExportFormat.csv
    with tempfile.TemporaryDirectory() as directory, db.read(snapshot=True) as session:
        path = Path(directory) / f"export.{fmt.value}"
        started = time.perf_counter()
        if variant.startswith("streamed"):
            rows = write_export(session, ExportKind.products, fmt, {}, path, lambda done, total: None)
        else:
            products = source(session, ExportKind.products, {})
            every = session.execute(products.stmt).all()  # the whole table in memory
            rows = WRITERS[fmt](path, "products", products.header, (products.cells(r) for r in every), lambda _: None)
        seconds = time.perf_counter() - started
        size = path.stat().st_size
    return {"variant": variant, "rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            "rss_growth_mb": rss_mb() - before, "size_mb": size / 2**20}


def fill(rows: int) -> None:
    import psycopg

    with psycopg.connect(DATABASE_URL, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO categories (name, active, created_at) VALUES ('Bench', true, now())")
        cur.execute(
            "INSERT INTO products (sku, name, description, category_id, price, cost, tax_rate, has_sizes, sizes, "
            "min_stock, active, created_at, barcode) SELECT 'SKU-' || lpad(n::text, 8, '0'), "
            "'Product number ' || n || ' of the bench', NULL, 1, 10.50, 4.25, 0.21, true, "
            "'[\"S\", \"M\", \"L\"]'::json, 0, true, now(), 'B' || n FROM generate_series(1, %s) AS n", (rows,))
        cur.execute("ANALYZE products")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="50,000 rows")
    parser.add_argument("--measure", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    env = base_env(Children())
    use_env_here(env)
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    rows = 50_000 if args.quick else args.rows
    import psycopg
    from alembic import command
    from alembic.config import Config

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    try:
        config = Config(str(ROOT / "alembic.ini"))
        config.attributes.update(database_url=env["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://"),
                                 configure_logging=False)
        command.upgrade(config, "head")
        log(f"filling {rows} products")
        fill(rows)
        results = {}
        for variant in VARIANTS:
            out = subprocess.run([sys.executable, __file__, "--measure", variant], env=env, check=True,
                                 capture_output=True, text=True, timeout=900).stdout
            results[variant] = json.loads(out.strip().splitlines()[-1])
            log(f"{variant}: {results[variant]}")
    finally:
        drop_database()
    print(f"code: {code_version()}; {rows} products")
    print(f"{'variant':<15} {'rows/s':>10} {'seconds':>8} {'MB out':>7} {'RSS growth MB':>14}")
    for r in results.values():
        print(f"{r['variant']:<15} {r['rows_per_s']:>10.0f} {r['seconds']:>8.2f} {r['size_mb']:>7.1f} "
              f"{r['rss_growth_mb']:>14.1f}")
    base, csv_, xlsx = (results[v] for v in VARIANTS)
    print(ratio_line("streamed CSV rows/s / baseline rows/s", csv_["rows_per_s"] / base["rows_per_s"], 0.8))
    worst = max(csv_["rss_growth_mb"], xlsx["rss_growth_mb"])
    print(ratio_line("baseline RSS growth / streamed RSS growth (worst of CSV, XLSX)",
                     base["rss_growth_mb"] / max(worst, 1.0), 4.0))
    return 0


if __name__ == "__main__":
    run(main)
