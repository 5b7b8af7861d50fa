"""Live streams: 1,000 Server-Sent Events clients, each watching a job, on the Procfile's web server.

The web runs as the Procfile runs it (gunicorn, gevent worker, WEB_CONCURRENCY=2). 100 ping jobs of
5 steps each (one progress event a step) run on a gevent worker that takes them all at once; 10
clients watch each job, from one process of this script (raw sockets, HTTP/1.0: the server streams,
then closes). Checked: every client sees the snapshot, every progress event in order, the end. While
the streams are open, another client's `GET /api/v1/jobs` is timed against the same request with no
stream open (the baseline, same run). Measured: the web's memory (RSS of the master and its workers)
with no stream and at its peak, and what each stream costs.

    .venv/bin/python bench/streams.py            # 1,000 clients, ~1 min
    .venv/bin/python bench/streams.py --quick    # 200 clients
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import _common as c  # noqa: E402

JOBS = 100
STEPS = 5
STEP_MS = 1500
MEMORY_GOAL_MB = 500


def rss_mb(pid: int) -> float:
    """RSS of a process and its children (a gunicorn master and its workers)."""
    total = 0
    for p in [pid, *_children_of(pid)]:
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total / 1024


def _children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def timed_get(url: str, token: str, times: int = 20) -> float:
    """Median seconds of GET /api/v1/jobs?limit=5."""
    samples = []
    for _ in range(times):
        req = urllib.request.Request(f"{url}/api/v1/jobs?limit=5", headers={"Authorization": f"Bearer {token}"})
        started = time.perf_counter()
        with urllib.request.urlopen(req, timeout=30) as answer:
            answer.read()
        samples.append(time.perf_counter() - started)
    return sorted(samples)[len(samples) // 2]


def submit(url: str, token: str, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        body = json.dumps({"steps": STEPS, "sleep_ms": STEPS * STEP_MS}).encode()
        req = urllib.request.Request(f"{url}/api/v1/jobs/ping", data=body, method="POST", headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as answer:
            ids.append(json.load(answer)["id"])
    return ids


class Clients:
    def __init__(self, url: str, paths: list[str], token: str):
        host, port = url.removeprefix("http://").split(":")
        self.selector = selectors.DefaultSelector()
        self.data: list[bytearray] = []
        for n, path in enumerate(paths):
            sock = socket.create_connection((host, int(port)))
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
            sock.setblocking(False)
            self.data.append(bytearray())
            self.selector.register(sock, selectors.EVENT_READ, n)

    def pump(self, until, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.selector.get_map() and not until() and time.monotonic() < deadline:
            for key, _ in self.selector.select(timeout=0.05):
                chunk = key.fileobj.recv(65536)
                if chunk:
                    self.data[key.data] += chunk
                else:
                    self.selector.unregister(key.fileobj)
                    key.fileobj.close()

    def open(self) -> int:
        return len(self.selector.get_map())

    def events(self, n: int) -> list[tuple[str, dict]]:
        body = self.data[n].decode().split("\r\n\r\n", 1)[-1]
        out = []
        for block in body.split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line and not line.startswith(":"))
            if "event" in fields:
                out.append((fields["event"], json.loads(fields["data"])))
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 clients")
    ap.add_argument("--clients", type=int)
    ap.add_argument("--keep-db", action="store_true")
    args = ap.parse_args()
    clients_n = args.clients or (200 if args.quick else 1000)

    children = c.Children()
    c.install_guards(children, limit_seconds=300)
    env = c.base_env(children)
    c.use_env_here(env)
    c.reset_database(env)
    c.flush_redis()
    try:
        web, url = c.start_gunicorn(children, "web", "web:create_app()", env)
        token = c.register_user(url, "streams@bench.example")
        idle_rss = rss_mb(web.pid)
        baseline_get = timed_get(url, token)
        argv = [str(c.VENV_BIN / "python"), "-m", "worker", "io", "-Q", "default", "--loglevel", "WARNING"]
        worker = children.spawn("worker", argv, {**env, "IO_WORKER_CONCURRENCY": str(JOBS)})
        c.wait_for_quiet(max_wait=20)
        ids = submit(url, token, JOBS)
        started = time.perf_counter()
        clients = Clients(url, [f"/api/v1/jobs/{ids[n % JOBS]}/stream" for n in range(clients_n)], token)
        clients.pump(lambda: all(b"event: snapshot" in d for d in clients.data), 60)
        connected_in = time.perf_counter() - started
        peak_rss, during_get = rss_mb(web.pid), timed_get(url, token)
        while clients.open():
            clients.pump(lambda: False, 1.0)
            peak_rss = max(peak_rss, rss_mb(web.pid))
            if time.perf_counter() - started > 120:
                break
            if worker.poll() is not None:
                raise RuntimeError(f"worker exited:\n{children.log_tail('worker')}")
        total = time.perf_counter() - started
    finally:
        c.teardown(children, args.keep_db)

    complete = 0
    for n in range(clients_n):
        events = clients.events(n)
        progress = [data["done"] for name, data in events if name == "progress"]
        ok = (events and events[0][0] == "snapshot" and events[-1][0] == "end"
              and events[-1][1].get("status") == "succeeded"
              and progress == list(range(progress[0], STEPS + 1)) if progress else False)
        complete += bool(ok)
    print()
    print(f"code: {c.code_version()}; {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"Streams: {clients_n} SSE clients on {JOBS} ping jobs of {STEPS} steps, web as in the Procfile "
          f"(gunicorn gevent, WEB_CONCURRENCY=2); {os.cpu_count()} cores")
    print(f"all {clients_n} connected (snapshot received) in {connected_in:.1f} s; everything over in {total:.1f} s")
    print(f"clients that saw the snapshot, every progress event from there on in order, and the end: "
          f"{complete}/{clients_n}")
    print(f"web memory: {idle_rss:.0f} MB idle, {peak_rss:.0f} MB at the peak "
          f"({1024 * (peak_rss - idle_rss) / clients_n:.0f} KB a stream); goal < {MEMORY_GOAL_MB} MB: "
          f"{'met' if peak_rss < MEMORY_GOAL_MB else 'NOT MET'}")
    print(f"GET /api/v1/jobs median: {1000 * baseline_get:.1f} ms with no stream open (baseline), "
          f"{1000 * during_get:.1f} ms with {clients_n} open: ratio {baseline_get / during_get:.2f}")
    return 0 if complete == clients_n else 1


if __name__ == "__main__":
    c.run(main)
