#!/usr/bin/env python
"""Offline sales batches: `POST /api/v1/sales/batches` through the real stack vs. the same rows by plain SQL.

Measured in one run, against a dedicated PostgreSQL database (conveyor_bench_sales, dropped and
re-created) and Redis db 11 (flushed):

  jobs   B batches (10) of S sales (1,000) of 3 lines each, cash paid (with change), all in branch B01,
         one terminal per batch: posted to gunicorn (`web:create_app()`, 2 processes) one after the
         other, run by the Procfile's worker line (`python -m worker jobs`, prefork, 2 processes).
         Timed from the first POST to the last batch job's finished_at.
  raw    the same sales in branch B02, the same rows (sale, 3 items, payment, 3 conditional stock
         decrements, 3 movements, the invoice with its gapless number from the branch's counter), by
         plain SQL: psycopg, one transaction per batch, by 2 client processes (as many as the worker
         has). Timed from the first client's start to the last one's end.

After the run, both branches are checked: every sale applied once (the jobs' outcomes too), stock
equal to the sum of its movements (services.sales.reconcile_stock), each stock row down by exactly
what was sold, invoice numbers 1..N without a gap.

    .venv/bin/python bench/sales.py             # 10 batches of 1,000
    .venv/bin/python bench/sales.py --quick     # 4 batches of 250
    .venv/bin/python bench/sales.py --py-spy /tmp/prof   # also record the worker (slower)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import signal
import sys
import time
import urllib.request
import uuid
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import _common as c  # noqa: E402
from bench._common import log  # noqa: E402

DB_NAME = "conveyor_bench_sales"
DATABASE_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
RAW_DSN = f"host=127.0.0.1 port=5432 user=postgres dbname={DB_NAME} application_name=conveyor-bench-raw"
BROKER_URL = "redis://127.0.0.1:6379/11"
PRODUCTS = 30
STOCK = 1_000_000  # per product and branch: never the limit
TAX_RATES = (Decimal("0.21"), Decimal("0.10"), Decimal("0.04"))
RAW_CLIENTS = 2
GOAL = 0.5
CHILDREN = c.Children(prefix="conveyor-bench-sales-")
ENV = c.base_env(CHILDREN, DATABASE_URL=DATABASE_URL, BROKER_URL=BROKER_URL, REDIS_URL=BROKER_URL)
c.use_env_here(ENV)


# --------------------------------------------------------------------------------------------
# The catalogue, the sales
# --------------------------------------------------------------------------------------------

def setup() -> tuple[str, int, dict[str, int], list[dict]]:
    """An admin (and a bearer token), branches B01 (jobs) and B02 (raw), the products, their stock."""
    from config import load_settings
    from models.database import make_database
    from services.sales import adjust, create_branch, create_product

    settings = load_settings()
    db = make_database(settings.database_url)
    with db.Session.begin() as session:
        admin, token = c.bench_admin(session, settings)
        branches = {code: create_branch(session, {"name": f"Branch {code}", "code": code}).id
                    for code in ("B01", "B02")}
        products = []
        for i in range(PRODUCTS):
            row = create_product(session, {"sku": f"SKU-{i:03d}", "name": f"Product {i}",
                                           "price": Decimal("1.00") + Decimal(i) * Decimal("0.37"),
                                           "tax_rate": TAX_RATES[i % len(TAX_RATES)]})
            products.append({"id": row.id, "sku": row.sku, "name": row.name, "price": row.price,
                             "tax_rate": row.tax_rate})
        session.flush()
        for branch_id in branches.values():
            adjust(session, branch_id, [{"product_id": p["id"], "size": "", "quantity": STOCK} for p in products],
                   reason="bench delivery", reference="bench:setup", user_id=admin.id)
        admin_id = admin.id
    db.engine.dispose()
    return token, admin_id, branches, products


def make_batch(batch: int, size: int, products: list[dict]) -> list[dict]:
    """`size` sales of 3 distinct products, 1-3 units each, paid in cash rounded up to a whole unit."""
    sales = []
    for i in range(size):
        picks = [(products[(i + k * 11 + batch) % PRODUCTS], 1 + (i + k) % 3) for k in range(3)]
        total = sum((line_total(p, q) for p, q in picks), Decimal("0.00"))
        sales.append({"client_sale_id": f"B{batch}-S{i}",
                      "items": [{"product_id": p["id"], "quantity": q} for p, q in picks],
                      "payments": [{"method": "cash", "amount": str(total.to_integral_value(ROUND_CEILING))}]})
    return sales


def line_total(product: dict, quantity: int) -> Decimal:
    from services.sales.pricing import cents

    net = product["price"] * quantity
    return net + cents(net * product["tax_rate"])


# --------------------------------------------------------------------------------------------
# Jobs: the real stack
# --------------------------------------------------------------------------------------------

def post(base: str, path: str, token: str, body: dict, prefer: str | None = None) -> dict:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    if prefer:
        headers["Prefer"] = prefer
    req = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(), method="POST", headers=headers)
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.load(resp)


def run_jobs(batches: list[list[dict]], branch_id: int, token: str, py_spy: Path | None, timeout: float) -> dict:
    import psycopg

    web, base = c.start_gunicorn(CHILDREN, "web", "web:create_app()", ENV)
    worker = c.start_worker(CHILDREN, "worker", "worker.app", ENV)
    # The worker is up once a ping job ran through it.
    ping = post(base, "/api/v1/jobs/ping", token, {"sleep_ms": 0, "steps": 0, "fail_times": 0}, prefer="wait=30")
    if ping.get("status") != "succeeded":
        raise RuntimeError(f"the worker did not run a ping job: {ping}\n{CHILDREN.log_tail('worker')}")
    c.wait_for_quiet(limit=0.15, max_wait=30.0, sample=0.5)
    profiler = None
    if py_spy is not None:
        py_spy.mkdir(parents=True, exist_ok=True)
        profiler = c.start_py_spy(CHILDREN, "py-spy", worker.pid, py_spy / "worker.txt")
    window = c.CpuWindow(CHILDREN)
    started = time.time()
    job_ids = [post(base, "/api/v1/sales/batches", token,
                    {"branch_id": branch_id, "terminal_id": f"T{b}", "sales": sales})["id"]
               for b, sales in enumerate(batches)]
    submitted = time.time() - started
    with psycopg.connect(RAW_DSN, autocommit=True) as conn:
        deadline = time.monotonic() + timeout
        while True:
            done = conn.execute("SELECT count(*) FROM jobs WHERE id = ANY(%s) AND status IN "
                                "('succeeded', 'failed', 'cancelled')", (job_ids,)).fetchone()[0]
            if done == len(job_ids):
                break
            if time.monotonic() > deadline or worker.poll() is not None:
                raise c.BenchTimeout(f"{done}/{len(job_ids)} batches finished\n{CHILDREN.log_tail('worker', 40)}")
            time.sleep(0.2)
        window.stop()
        finished, statuses, results = conn.execute(
            "SELECT max(finished_at), array_agg(status), array_agg(result) FROM jobs WHERE id = ANY(%s)",
            (job_ids,)).fetchone()
    if profiler is not None:
        CHILDREN.stop(profiler, timeout=30, sig=signal.SIGINT)
    CHILDREN.stop(worker)
    CHILDREN.stop(web)
    seconds = finished.timestamp() - started
    applied = sum((r or {}).get("applied", 0) for r in results)
    return {"seconds": seconds, "submitted": submitted, "applied": applied, "statuses": statuses,
            "cpu": window.summary()}


# --------------------------------------------------------------------------------------------
# Raw: the same rows by plain SQL
# --------------------------------------------------------------------------------------------

def raw_batch(args: tuple[int, int, int, list[dict]]) -> int:
    """One batch in one transaction; the number of sales written."""
    import psycopg
    from psycopg.types.json import Json

    from models.base import utcnow
    from services.sales.pricing import cents, fingerprint, normalise

    batch, branch_id, seller_id, sales = args
    year = utcnow().year
    with psycopg.connect(RAW_DSN) as conn, conn.transaction():
        code = conn.execute("SELECT code FROM branches WHERE id = %s", (branch_id,)).fetchone()[0]
        products = {row[0]: row for row in conn.execute(
            "SELECT id, sku, name, price, tax_rate FROM products WHERE active")}
        conn.execute("INSERT INTO document_counters (branch_id, kind, year, last) VALUES (%s, 'invoice', %s, 0) "
                     "ON CONFLICT DO NOTHING", (branch_id, year))
        for sale in sales:
            now = utcnow()
            lines = []
            for n, item in enumerate(sale["items"]):
                pid, sku, name, price, rate = products[item["product_id"]]
                net = price * item["quantity"]
                tax = cents(net * rate)
                lines.append((n, pid, sku, name, item["quantity"], price, rate, net, tax, net + tax))
            subtotal = sum((line[7] for line in lines), Decimal("0.00"))
            tax = sum((line[8] for line in lines), Decimal("0.00"))
            total = subtotal + tax
            paid = Decimal(sale["payments"][0]["amount"])
            sequence = conn.execute("UPDATE document_counters SET last = last + 1 WHERE branch_id = %s AND "
                                    "kind = 'invoice' AND year = %s RETURNING last", (branch_id, year)).fetchone()[0]
            sale_id = conn.execute(
                "INSERT INTO sales (branch_id, terminal_id, client_sale_id, fingerprint, seller_id, status, subtotal, "
                "tax, discount, total, paid, change, created_at) VALUES (%s, %s, %s, %s, %s, 'completed', %s, %s, 0, "
                "%s, %s, %s, %s) RETURNING id",
                (branch_id, f"T{batch}", sale["client_sale_id"], fingerprint(normalise(sale)), seller_id, subtotal,
                 tax, total, paid, paid - total, now)).fetchone()[0]
            for line in sorted(lines, key=lambda line: line[1]):
                left = conn.execute("UPDATE stock SET quantity = quantity - %s, updated_at = %s WHERE product_id = %s "
                                    "AND branch_id = %s AND size = '' AND quantity - reserved >= %s RETURNING quantity",
                                    (line[4], now, line[1], branch_id, line[4])).fetchone()
                if left is None:
                    raise RuntimeError(f"raw: no stock for product {line[1]}")
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO inventory_movements (product_id, branch_id, size, quantity, reason, "
                                "reference, user_id, created_at) VALUES (%s, %s, '', %s, 'sale', %s, %s, %s)",
                                [(line[1], branch_id, -line[4], f"sale:{sale_id}", seller_id, now) for line in lines])
                cur.executemany("INSERT INTO sale_items (sale_id, line, product_id, sku, name, size, quantity, "
                                "unit_price, tax_rate, net, tax, total) VALUES (%s, %s, %s, %s, %s, '', %s, %s, %s, "
                                "%s, %s, %s)", [(sale_id, *line) for line in lines])
            conn.execute("INSERT INTO sale_payments (sale_id, method, amount) VALUES (%s, 'cash', %s)", (sale_id, paid))
            money = lambda v: str(cents(v))  # noqa: E731
            conn.execute(
                "INSERT INTO invoices (kind, number, branch_id, year, sequence, sale_id, seller, lines, tax_summary, "
                "totals, payments, created_at) VALUES ('invoice', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (f"{code}-{year}-{sequence:06d}", branch_id, year, sequence, sale_id,
                 Json({"branch_id": branch_id, "code": code, "user_id": seller_id, "terminal_id": f"T{batch}"}),
                 Json([{"line": n, "product_id": pid, "sku": sku, "name": name, "size": "", "quantity": q,
                        "unit_price": money(p), "tax_rate": str(r), "net": money(ne), "tax": money(t),
                        "total": money(to)} for n, pid, sku, name, q, p, r, ne, t, to in lines]),
                 Json([{"rate": str(r), "net": money(ne), "tax": money(t)} for _, _, _, _, _, _, r, ne, t, _ in lines]),
                 Json({"subtotal": money(subtotal), "tax": money(tax), "discount": "0.00", "total": money(total),
                       "paid": money(paid), "change": money(paid - total)}),
                 Json([{"method": "cash", "amount": money(paid), "credits": None}]), now))
    return len(sales)


def run_raw(batches: list[list[dict]], branch_id: int, seller_id: int) -> dict:
    c.wait_for_quiet(limit=0.15, max_wait=30.0, sample=0.5)
    window = c.CpuWindow(CHILDREN)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    with multiprocessing.get_context("fork").Pool(RAW_CLIENTS) as pool:
        written = sum(pool.map(raw_batch, [(b, branch_id, seller_id, s) for b, s in enumerate(batches)], chunksize=1))
    seconds = time.time() - started
    window.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    clients = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    # The clients are forked from this script, so the window counts them among "others".
    return {"seconds": seconds, "applied": written,
            "cpu": f"the {RAW_CLIENTS} clients {clients:.1f}s; {window.summary()}"}


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------

def check(branch_id: int, batches: list[list[dict]]) -> list[str]:
    """What is wrong with the branch's rows (nothing: an empty list)."""
    import psycopg

    n = sum(len(b) for b in batches)
    sold: dict[int, int] = {}
    for sales in batches:
        for sale in sales:
            for item in sale["items"]:
                sold[item["product_id"]] = sold.get(item["product_id"], 0) + item["quantity"]
    problems = []
    with psycopg.connect(RAW_DSN, autocommit=True) as conn:
        one = lambda sql: conn.execute(sql, (branch_id,)).fetchone()  # noqa: E731
        sales, distinct = one("SELECT count(*), count(DISTINCT (terminal_id, client_sale_id)) FROM sales "
                              "WHERE branch_id = %s")
        items = one("SELECT count(*) FROM sale_items JOIN sales ON sales.id = sale_id WHERE branch_id = %s")[0]
        payments = one("SELECT count(*) FROM sale_payments JOIN sales ON sales.id = sale_id WHERE branch_id = %s")[0]
        moves = one("SELECT count(*) FROM inventory_movements WHERE branch_id = %s AND reason = 'sale'")[0]
        count, low, high, unique = one("SELECT count(*), min(sequence), max(sequence), count(DISTINCT number) "
                                       "FROM invoices WHERE branch_id = %s AND kind = 'invoice'")
        wrong_totals = one("SELECT count(*) FROM sales WHERE branch_id = %s AND (total <> subtotal + tax - discount "
                           "OR change <> paid - total OR change < 0)")[0]
        stock = dict(conn.execute("SELECT product_id, quantity FROM stock WHERE branch_id = %s",
                                  (branch_id,)).fetchall())
    if not (sales == distinct == n):
        problems.append(f"{sales} sales ({distinct} distinct), expected {n}")
    if (items, payments, moves) != (3 * n, n, 3 * n):
        problems.append(f"{items} items, {payments} payments, {moves} sale movements; expected {3 * n}, {n}, {3 * n}")
    if not (count == unique == high == n and low == 1):
        problems.append(f"invoice numbers not 1..{n} without a gap: {count} invoices, {low}..{high}, {unique} numbers")
    if wrong_totals:
        problems.append(f"{wrong_totals} sales whose totals do not add up")
    off = {p: (q, STOCK - sold.get(p, 0)) for p, q in stock.items() if q != STOCK - sold.get(p, 0)}
    if off:
        problems.append(f"stock rows off what was sold (quantity, expected): {dict(list(off.items())[:3])}")
    return problems


def reconcile() -> list[dict]:
    from config import load_settings
    from models.database import make_database
    from services.sales import reconcile_stock

    db = make_database(load_settings().database_url)
    with db.Session.begin() as session:
        mismatches = reconcile_stock(session)
    db.engine.dispose()
    return mismatches


# --------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 batches of 250 sales instead of 10 of 1,000")
    parser.add_argument("--py-spy", type=Path, default=None, metavar="DIR",
                        help="record the worker with py-spy (raw collapsed stacks) into DIR; slows it down")
    try:
        args = parser.parse_args()
    except SystemExit:
        CHILDREN.cleanup()
        raise
    count, size = (4, 250) if args.quick else (10, 1000)
    n = count * size
    c.install_guards(CHILDREN, 300 if args.quick else 900)
    CHILDREN.keep_logs = True  # until we finish cleanly
    began = time.perf_counter()
    log(f"resetting {DB_NAME} and {BROKER_URL}, migrating")
    flush_broker()
    c.reset_database(ENV, db_name=DB_NAME)
    token, admin_id, branches, products = setup()
    batches = [make_batch(b, size, products) for b in range(count)]
    log(f"{count} batches of {size} sales ready ({time.perf_counter() - began:.1f} s)")

    raw = run_raw(batches, branches["B02"], seller_id=admin_id)
    log(f"raw SQL: {n / raw['seconds']:.0f} sales/s")
    jobs = run_jobs(batches, branches["B01"], token, args.py_spy, timeout=240 if args.quick else 720)
    log(f"jobs: {n / jobs['seconds']:.0f} sales/s")

    problems = [f"jobs: {p}" for p in check(branches["B01"], batches)]
    problems += [f"raw: {p}" for p in check(branches["B02"], batches)]
    if jobs["applied"] != n or set(jobs["statuses"]) != {"succeeded"}:
        problems.append(f"jobs: {jobs['applied']} outcomes `applied`, statuses {set(jobs['statuses'])}")
    mismatches = reconcile()
    if mismatches:
        problems.append(f"stock reconciliation: {len(mismatches)} mismatches, first {mismatches[:2]}")

    jobs_rate, raw_rate = n / jobs["seconds"], n / raw["seconds"]
    ratio = jobs_rate / raw_rate
    print()
    print(f"Offline sales batches: {count} batches x {size} sales x 3 lines, PostgreSQL {DB_NAME}, "
          f"{os.cpu_count()} cores, code {c.code_version()}")
    print()
    print(f"{'side':<48} {'sales':>6} {'seconds':>8} {'sales/s':>8}")
    print(f"{'jobs: POST /sales/batches, worker `jobs` -c 2':<48} {n:>6} {jobs['seconds']:>8.2f} {jobs_rate:>8.0f}")
    print(f"{'raw SQL: psycopg, 1 transaction/batch, 2 clients':<48} {n:>6} {raw['seconds']:>8.2f} {raw_rate:>8.0f}")
    print()
    print(f"jobs: the {count} POSTs took {jobs['submitted']:.2f} s of it; CPU: {jobs['cpu']}")
    print(f"raw:  CPU: {raw['cpu']}")
    print()
    print(f"jobs / raw SQL = {ratio:.3f}  (goal >= {GOAL}): {'MET' if ratio >= GOAL else 'NOT MET'}")
    print("checks: every sale applied once, totals add up, stock down by exactly what was sold and equal to "
          "its movements, invoice numbers gapless: " + ("all passed" if not problems else "FAILED"))
    for problem in problems:
        print(f"  {problem}")
    print(f"total time {time.perf_counter() - began:.0f} s")
    if args.py_spy:
        print(f"py-spy profile (raw collapsed stacks): {args.py_spy / 'worker.txt'}")
    sys.stdout.flush()
    CHILDREN.keep_logs = bool(problems)
    flush_broker()
    drop_database()
    return 0 if not problems else 1


def flush_broker() -> None:
    import redis

    redis.Redis.from_url(BROKER_URL).flushdb()


def drop_database() -> None:
    import psycopg

    with psycopg.connect(c.PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    c.run(main)
