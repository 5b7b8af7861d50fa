#!/usr/bin/env python
"""Imports end to end: `POST /api/v1/imports` (multipart) to `succeeded`, through the real stack, vs. PostgreSQL's COPY.

Measured in one run, against a dedicated PostgreSQL database (conveyor_bench_imports, dropped and
re-created) and Redis db 1 (flushed); gunicorn (`web:create_app()`, 2 processes) and the Procfile's
worker line (`python -m worker jobs`, prefork, WORKER_CONCURRENCY=1: one process does the import):

  copy     the CSV file into a plain table of text/numeric columns by COPY (psycopg), one transaction.
  csv      N product rows (sku, name, price, cost, tax rate, category, barcode; 20 categories) as CSV,
           mode=apply into an empty catalogue: from the first byte of the upload to the job's finished_at.
  xlsx     the same rows as XLSX (xlsxwriter), into an emptied catalogue.
  preview  the same CSV, mode=preview, into an emptied catalogue.
  memory   the import job's process's peak RSS (VmHWM, a fresh worker each time) for 10,000 and 1,000,000 rows.

    .venv/bin/python bench/imports.py             # 100,000 rows; memory at 10,000 and 1,000,000
    .venv/bin/python bench/imports.py --quick     # 20,000 rows; memory at 10,000 and 100,000
    .venv/bin/python bench/imports.py --quick --profile /tmp/csv.txt   # and py-spy's stacks of the CSV import
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import _common as c  # noqa: E402
from bench._common import log  # noqa: E402

DB_NAME = "conveyor_bench_imports"
DATABASE_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
RAW_DSN = f"host=127.0.0.1 port=5432 user=postgres dbname={DB_NAME}"
BROKER_URL = "redis://127.0.0.1:6379/1"
CSV_GOAL, XLSX_GOAL, MEMORY_GOAL_MB = 20_000, 10_000, 100
# The peer: django-import-export's best published figure, its maintainer's tuned bulk mode (bulk_create, no diffs,
# no lookups), 20,000 new rows in 5.4 s, https://gist.github.com/matthewhegarty/f8a6fc7d06ae00176b15c885faca6c1f
# (linked from its docs' "Bulk imports"); its default bulk mode took 33.72 s for the same rows.
PEER = ("django-import-export, tuned bulk", round(20_000 / 5.4))
CHILDREN = c.Children(prefix="conveyor-bench-imports-")
ENV = c.base_env(CHILDREN, DATABASE_URL=DATABASE_URL, BROKER_URL=BROKER_URL, REDIS_URL=BROKER_URL,
                 WORKER_CONCURRENCY="1", UPLOAD_DIR=str(CHILDREN.tmp / "uploads"))
c.use_env_here(ENV)
HEADER = ["sku", "name", "price", "cost", "tax_rate", "category", "barcode"]


def row(n: int) -> list:
    return [f"SKU-{n:07d}", f"Product number {n}", f"{n % 997 + 1}.{n % 100:02d}", f"{n % 500}.25",
            "0.21" if n % 3 else "0.10", f"Category {n % 20}", f"{8400000000000 + n}"]


def write_csv(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(",".join(HEADER) + "\n")
        for n in range(rows):
            out.write(",".join(row(n)) + "\n")


def write_xlsx(path: Path, rows: int) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("Products")
    sheet.write_row(0, 0, HEADER)
    for n in range(rows):
        values = row(n)
        sheet.write_row(n + 1, 0, [values[0], values[1], float(values[2]), float(values[3]), float(values[4]),
                                   values[5], values[6]])
    book.close()


def setup() -> str:
    """An admin's bearer token."""
    from config import load_settings
    from models.database import make_database

    settings = load_settings()
    db = make_database(settings.database_url)
    with db.Session.begin() as session:
        token = c.bench_admin(session, settings)[1]
    db.engine.dispose()
    return token


def copy_baseline(path: Path) -> tuple[float, float]:
    """Seconds for COPY of the file into a plain table, and into the products table itself (its unique
    indexes and category foreign key: the floor for any import into the catalogue)."""
    import psycopg

    with psycopg.connect(RAW_DSN) as conn:
        conn.execute("CREATE TABLE copy_baseline (sku text, name text, price numeric(12,2), cost numeric(12,2), "
                     "tax_rate numeric(5,4), category text, barcode text)")
        started = time.perf_counter()
        with conn.cursor().copy("COPY copy_baseline FROM STDIN (FORMAT csv, HEADER true)") as copy, \
                open(path, "rb") as data:
            while chunk := data.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        plain = time.perf_counter() - started
        conn.execute("INSERT INTO categories (name, active, created_at) SELECT DISTINCT category, true, now() "
                     "FROM copy_baseline")
        conn.commit()
        started = time.perf_counter()
        conn.execute("CREATE TEMP TABLE staged (LIKE copy_baseline)")
        with conn.cursor().copy("COPY staged FROM STDIN (FORMAT csv, HEADER true)") as copy, \
                open(path, "rb") as data:
            while chunk := data.read(1 << 20):
                copy.write(chunk)
        conn.execute("INSERT INTO products (sku, name, price, cost, tax_rate, category_id, barcode, has_sizes, sizes, "
                     "min_stock, active, created_at) SELECT s.sku, s.name, s.price, s.cost, s.tax_rate, c.id, "
                     "s.barcode, false, '[]', 0, true, now() FROM staged s JOIN categories c ON c.name = s.category")
        conn.commit()
        return plain, time.perf_counter() - started


def connect():
    import psycopg

    return psycopg.connect(RAW_DSN, autocommit=True)


def empty_catalogue() -> None:
    with connect() as conn:
        conn.execute("TRUNCATE products, categories RESTART IDENTITY CASCADE")


def upload(base: str, token: str, path: Path, **form: str) -> str:
    """Stream the multipart body (never whole in memory); the import's job id."""
    boundary = uuid.uuid4().hex
    fields = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                      for k, v in form.items())
    head = fields + (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    url = urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    conn.putrequest("POST", "/api/v1/imports")
    for name, value in {"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}",
                        "Content-Length": str(len(head) + path.stat().st_size + len(tail))}.items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(head)
    with open(path, "rb") as data:
        while chunk := data.read(1 << 20):
            conn.send(chunk)
    conn.send(tail)
    answer = conn.getresponse()
    body = json.loads(answer.read())
    if answer.status != 202:
        raise RuntimeError(f"upload refused: {answer.status} {body}")
    return body["job_id"]


def wait_job(job_id: str, timeout: float = 1800) -> tuple[float, dict]:
    """(finished_at as a timestamp, result) once the job succeeded."""
    deadline = time.monotonic() + timeout
    with connect() as conn:
        while True:
            status, finished, result, error = conn.execute(
                "SELECT status, finished_at, result, error FROM jobs WHERE id = %s", (job_id,)).fetchone()
            if status == "succeeded":
                return finished.timestamp(), result
            if status in ("failed", "cancelled") or time.monotonic() > deadline:
                raise RuntimeError(f"the import ended {status}: {error}\n{CHILDREN.log_tail('worker', 40)}")
            time.sleep(0.05)


def timed_import(base: str, token: str, path: Path, rows: int, **form: str) -> float:
    started = time.time()
    job_id = upload(base, token, path, kind="products", **form)
    uploaded = time.time()
    finished, result = wait_job(job_id)
    log(f"  uploaded in {uploaded - started:.2f} s, the job took {finished - uploaded:.2f} s more")
    counted = sum(result["counts"].values())
    if counted != rows or result["counts"]["error"]:
        raise RuntimeError(f"the import counted {result['counts']}, expected {rows} rows without errors")
    return finished - started


def pool_child(worker_pid: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{worker_pid}/task/{worker_pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.2)
    raise RuntimeError("the worker started no pool process")


def peak_rss_mb(base: str, token: str, path: Path, rows: int) -> float:
    """A fresh worker imports the file; its pool process's peak RSS."""
    empty_catalogue()
    worker = c.start_worker(CHILDREN, f"worker-{rows}", "worker.app", ENV)
    child = pool_child(worker.pid)
    timed_import(base, token, path, rows, mode="apply")
    status = Path(f"/proc/{child}/status").read_text()
    peak = int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024
    CHILDREN.stop(worker)
    return peak


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--profile", type=Path, help="py-spy's collapsed stacks of the worker's CSV import, to this file")
    args = parser.parse_args()
    rows, big = (20_000, 100_000) if args.quick else (100_000, 1_000_000)
    c.install_guards(CHILDREN, 3600)
    try:
        c.reset_database(ENV, DB_NAME)
        token = setup()
        files = CHILDREN.tmp
        log(f"writing {rows:,} rows as CSV and XLSX, and {big:,} rows as CSV")
        write_csv(files / "products.csv", rows)
        write_xlsx(files / "products.xlsx", rows)
        write_csv(files / "small.csv", 10_000)
        write_csv(files / "big.csv", big)
        copy_seconds, copy_products_seconds = copy_baseline(files / "products.csv")
        log(f"COPY: {copy_seconds:.2f} s; into products: {copy_products_seconds:.2f} s")
        web, base = c.start_gunicorn(CHILDREN, "web", "web:create_app()", ENV)
        worker = c.start_worker(CHILDREN, "worker", "worker.app", ENV)
        child = pool_child(worker.pid)
        c.wait_for_quiet(limit=0.15, max_wait=30.0, sample=0.5)
        timings = {}
        for label, name, mode in (("xlsx", "products.xlsx", "apply"), ("csv", "products.csv", "apply"),
                                  ("preview", "products.csv", "preview")):
            empty_catalogue()
            spy = c.start_py_spy(CHILDREN, "py-spy", child, args.profile) if args.profile and label == "csv" else None
            timings[label] = timed_import(base, token, files / name, rows, mode=mode)
            if spy:
                CHILDREN.stop(spy, timeout=30, sig=signal.SIGINT)
            log(f"{label}: {timings[label]:.2f} s, {rows / timings[label]:,.0f} rows/s")
        CHILDREN.stop(worker)
        small, large = peak_rss_mb(base, token, files / "small.csv", 10_000), peak_rss_mb(
            base, token, files / "big.csv", big)
        CHILDREN.stop(web)
    finally:
        CHILDREN.stop_all()
        import redis

        redis.Redis.from_url(BROKER_URL).flushdb()
        if not args.keep_db:
            c.drop_database(DB_NAME)
    rate = {label: rows / seconds for label, seconds in timings.items()}
    print(f"\nimports, {rows:,} product rows, code {c.code_version()}, {os.cpu_count()} cores (shared machine)")
    print(f"  {'':<34}{'seconds':>9}{'rows/s':>10}")
    print(f"  {'PostgreSQL COPY (baseline)':<34}{copy_seconds:>9.2f}{rows / copy_seconds:>10,.0f}")
    print(f"  {'COPY + INSERT into products':<34}{copy_products_seconds:>9.2f}{rows / copy_products_seconds:>10,.0f}")
    for label, goal in (("csv", CSV_GOAL), ("xlsx", XLSX_GOAL), ("preview", CSV_GOAL)):
        met = "met" if rate[label] >= goal else "NOT met"
        print(f"  {'conveyor ' + label:<34}{timings[label]:>9.2f}{rate[label]:>10,.0f}   goal {goal:,}: {met}")
    print(f"  {PEER[0] + ' (published)':<34}{'':>9}{PEER[1]:>10,}")
    print(f"  ratio csv / COPY: {rate['csv'] / (rows / copy_seconds):.3f}; csv / COPY into products: "
          f"{rate['csv'] / (rows / copy_products_seconds):.3f}; csv / peer: {rate['csv'] / PEER[1]:.1f}x")
    met = "met" if large - small <= MEMORY_GOAL_MB else "NOT met"
    print(f"  worker peak RSS: {small:.0f} MB for 10,000 rows, {large:.0f} MB for {big:,} rows "
          f"(+{large - small:.0f} MB; goal within {MEMORY_GOAL_MB} MB: {met})")
    return 0


if __name__ == "__main__":
    c.run(main)
