"""What every benchmark shares: a dedicated database and Redis db, child processes that always die,
a hard time limit, a low-overhead HTTP load generator, and statistics.

Nothing here touches the project's code or its default database: the benchmarks run against
`conveyor_bench` (PostgreSQL) and Redis db 13 unless told otherwise.
"""

from __future__ import annotations

import atexit
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = ROOT / ".venv" / "bin"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.get("BENCH_DB_NAME", "conveyor_bench")
PG_ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}")
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13")
WORKER_QUEUE = "default"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Child processes: each in its own process group, so a gunicorn master's workers and a Celery
# worker's pool children die with it. Killed on normal exit, on error, on SIGINT/SIGTERM and when
# the benchmark's time limit runs out.
# ---------------------------------------------------------------------------------------------

class Children:
    def __init__(self, prefix: str = "conveyor-bench-"):
        self._procs: list[tuple[str, subprocess.Popen]] = []
        self._lock = threading.Lock()
        self._names: dict[int, str] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix=prefix))
        self.keep_logs = False  # set to keep the logs at exit even without an uncaught exception

    def spawn(self, name: str, argv: list[str], env: dict, **kw) -> subprocess.Popen:
        logf = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, cwd=str(ROOT), env=env, stdin=subprocess.DEVNULL, stdout=logf,
                                stderr=subprocess.STDOUT, start_new_session=True, **kw)
        logf.close()
        with self._lock:
            self._procs.append((name, proc))
            self._names[proc.pid] = name  # its process group id, remembered after it stopped too
        return proc

    def pgids(self) -> set[int]:
        with self._lock:
            return {p.pid for _, p in self._procs} | set(self._names)

    def name_of_pgid(self, pgid: int) -> str:
        return self._names.get(pgid, "child")

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.tmp / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, proc: subprocess.Popen, timeout: float = 10.0, sig: int = signal.SIGTERM) -> None:
        """Send `sig` (SIGTERM) to the child's process group, then SIGKILL what is left after `timeout`."""
        if proc.poll() is None:
            _signal_group(proc.pid, sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # The leader may be gone while its group (pool children, gunicorn workers) lingers.
        _signal_group(proc.pid, signal.SIGKILL)
        try:
            proc.wait(2)
        except subprocess.TimeoutExpired:
            pass
        with self._lock:
            self._procs = [(n, p) for n, p in self._procs if p is not proc]

    def stop_all(self) -> None:
        with self._lock:
            procs = [p for _, p in self._procs]
        for proc in reversed(procs):
            self.stop(proc, timeout=5.0)

    def cleanup(self, keep_logs: bool = False) -> None:
        self.stop_all()
        if not keep_logs:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class BenchTimeout(Exception):
    pass


def install_guards(children: Children, limit_seconds: float) -> None:
    """Kill the children whatever happens: exit, exception, Ctrl-C, SIGTERM, or the time limit."""
    state = {"failed": False}

    def _on_exit():
        keep = state["failed"] or children.keep_logs
        children.cleanup(keep_logs=keep)
        if keep:
            log(f"child logs kept in {children.tmp}")

    atexit.register(_on_exit)

    def _on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    def _on_interrupt(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    # Explicitly, as a parent started in the background (`cmd &` in a script) may have left it ignored.
    signal.signal(signal.SIGINT, _on_interrupt)

    def _on_alarm(_signum, _frame):
        raise BenchTimeout(f"the benchmark ran over its {limit_seconds:.0f} s limit")

    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(int(limit_seconds))

    previous_hook = sys.excepthook

    def _hook(*args):
        state["failed"] = True
        previous_hook(*args)

    sys.excepthook = _hook


def run(main) -> None:
    """The scripts' `__main__`: run main(), log how long it took, exit with its return code."""
    started = time.monotonic()
    code = main()
    log(f"done in {time.monotonic() - started:.0f} s")
    sys.exit(code)


def teardown(children: Children, keep_db: bool) -> None:
    """After a run: stop the children, flush the broker's db, drop the database unless keep_db."""
    children.stop_all()
    flush_redis()
    if not keep_db:
        drop_database()


def code_version() -> str:
    """The commit measured, and the tracked files (outside bench/) that differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=str(ROOT), capture_output=True,
                              text=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=str(ROOT),
                                capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    dirty = [line[3:] for line in status if not line[3:].startswith("bench/")]
    return head + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else " (clean)")


# ---------------------------------------------------------------------------------------------
# Environment, database and broker.
# ---------------------------------------------------------------------------------------------

# Benchmarks run in the test environment, which takes its secrets from the environment like production.
BENCH_SECRETS = {"SECRET_KEY": "bench-secret-key-" + "k" * 32, "PAYMENT_WEBHOOK_SECRET": "bench-webhook-secret",
                 "METRICS_TOKEN": "bench-metrics-token", "FLOWER_BASIC_AUTH": "flower:bench-password"}


def base_env(children: Children, **extra: str) -> dict:
    """The environment of every process of the stack (and of this process's own imports)."""
    metrics_dir = children.tmp / "prometheus"
    metrics_dir.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WEB_", "WORKER_", "JOB_", "DB_", "GUNICORN_", "CELERY_"))}
    env.update({
        "DATABASE_URL": DATABASE_URL,
        "BROKER_URL": BROKER_URL,
        "REDIS_URL": BROKER_URL,
        "CONVEYOR_ENV": "test",
        **BENCH_SECRETS,
        "LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "2",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    })
    env.update(extra)
    return env


def use_env_here(env: dict) -> None:
    """Make this process read the same settings (config.load_settings) as the children."""
    for key in ("DATABASE_URL", "BROKER_URL", "REDIS_URL", "CONVEYOR_ENV", "LOG_LEVEL", "PROMETHEUS_MULTIPROC_DIR",
                *BENCH_SECRETS):
        os.environ[key] = env[key]


def reset_database(env: dict, db_name: str = DB_NAME) -> None:
    """Drop and re-create the benchmark database (`db_name`), then migrate it with alembic (the
    database `env`'s DATABASE_URL names)."""
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')
    subprocess.run([str(VENV_BIN / "alembic"), "upgrade", "head"], cwd=str(ROOT), env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)


def drop_database(db_name: str = DB_NAME) -> None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    except Exception as exc:  # best effort at exit
        log(f"could not drop {db_name}: {exc}")


def bench_admin(session, settings):
    """An admin (admin@bench.example) with a login session, in `session`: (the user, their bearer token)."""
    from models import Role
    from services import auth, sessions

    admin = auth.create_user(session, "admin@bench.example", auth.hash_password("bench-password-123"), Role.admin)
    login, _ = sessions.start(session, admin.id, settings.refresh_token_days)
    return admin, auth.issue_token(admin, settings.secret_key, 24 * 3600, session_id=login.id)


def redis_client():
    import redis

    return redis.Redis.from_url(BROKER_URL, socket_timeout=30)


def flush_redis() -> None:
    redis_client().flushdb()


def pg_connect():
    import psycopg

    return psycopg.connect(DATABASE_URL, autocommit=True)


# ---------------------------------------------------------------------------------------------
# Servers.
# ---------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(children: Children, name: str, app_spec: str, env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = children.spawn(name, [str(VENV_BIN / "gunicorn"), "-c", "config/gunicorn.py", app_spec],
                          {**env, "PORT": str(port)})
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/healthz" if name.startswith("web") else f"{base}/ping", proc, children, name)
    return proc, base


def wait_http(url: str, proc: subprocess.Popen, children: Children, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{children.log_tail(name)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not answer {url} within {timeout}s:\n{children.log_tail(name)}")


def start_worker(children: Children, name: str, app_module: str, env: dict, task_events: bool = True,
                 extra: tuple[str, ...] = ()) -> subprocess.Popen:
    """A worker as the Procfile's `worker` line runs it (`python -m worker jobs`: its queues, pool and
    concurrency, from worker/routes.py); for another app (the bare baseline) the same command with
    `-A <app_module>`. Task events as configured, or off on the command line
    (`worker.send_task_events=False`), to measure what they cost.
    """
    from worker.__main__ import command

    argv = command("jobs", ["--loglevel", "WARNING", *extra])
    argv[argv.index("-A") + 1] = app_module
    argv[0] = str(VENV_BIN / "python")
    argv += [] if task_events else ["worker.send_task_events=False"]
    return children.spawn(name, argv, env)


def start_py_spy(children: Children, name: str, pid: int, out: Path) -> subprocess.Popen:
    """py-spy over process `pid` and its children (slows them down); the format from out's suffix:
    .json speedscope, .txt/.raw collapsed stacks, else an SVG flame graph. Stop it with
    `children.stop(spy, timeout=30, sig=signal.SIGINT)`: py-spy writes its output on SIGINT."""
    spy = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
    fmt = "speedscope" if out.suffix == ".json" else "raw" if out.suffix in (".txt", ".raw") else "flamegraph"
    return children.spawn(name, [spy, "record", "--subprocesses", "--nonblocking", "-r", "200", "-p", str(pid),
                                 "-f", fmt, "-o", str(out)], os.environ.copy())


def register_user(base_url: str, email: str, password: str = "bench-password-123") -> str:
    body = json.dumps({"email": email, "password": password}).encode()
    req = urllib.request.Request(f"{base_url}/api/v1/auth/register", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        if resp.status != 201:
            raise RuntimeError(f"register answered {resp.status}")
        return json.load(resp)["access_token"]


# ---------------------------------------------------------------------------------------------
# Statistics and CPU accounting.
# ---------------------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    total = sum(parts[:8])
    return total - idle, total


def machine_busy(before: tuple[float, float], after: tuple[float, float]) -> float:
    """Share of all cores busy between two cpu_times() readings (0..1)."""
    busy, total = after[0] - before[0], after[1] - before[1]
    return busy / total if total else 0.0


def background_busy(seconds: float = 1.0) -> float:
    """How busy the machine is before the benchmark starts anything (other people's processes)."""
    before = cpu_times()
    time.sleep(seconds)
    return machine_busy(before, cpu_times())


def wait_for_quiet(limit: float = 0.10, max_wait: float = 45.0, sample: float = 1.0) -> float:
    """On a shared machine, wait (at most max_wait seconds) until other processes leave it mostly
    idle: less than `limit` of all cores busy over `sample` seconds. Returns the last reading."""
    deadline = time.monotonic() + max_wait
    busy = background_busy(sample)
    announced = False
    while busy > limit and time.monotonic() < deadline:
        if not announced:
            log(f"machine {100 * busy:.0f}% busy with other work; waiting up to {max_wait:.0f}s for it to calm down")
            announced = True
        busy = background_busy(sample)
    return busy


def group_cpu_seconds(pgid: int) -> float:
    """User+system CPU seconds used so far by the live processes of a process group."""
    return sum(cpu for _comm, pgrp, _ppid, cpu, _start in cpu_snapshot().values() if pgrp == pgid)


SERVICES = ("postgres", "redis-server")


def cpu_snapshot() -> dict[int, tuple[str, int, int, float, int]]:
    """pid -> (command, process group, parent pid, CPU seconds so far, start time) for every live process."""
    ticks = os.sysconf("SC_CLK_TCK")
    snap = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.find("(") + 1:stat.rfind(")")]
        fields_ = stat[stat.rfind(")") + 2:].split()
        # (command, pgrp, ppid, CPU seconds, start time): the start time tells a reused pid apart
        snap[int(entry)] = (comm, int(fields_[2]), int(fields_[1]), (int(fields_[11]) + int(fields_[12])) / ticks,
                            int(fields_[19]))
    return snap


def _postgres_owner(pid: int) -> str:
    """A PostgreSQL backend serving our database is ours; one serving another database is someone
    else's; the server's own processes (WAL writer, checkpointer...) are shared."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            title = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "postgres"
    parts = title.split()
    # "postgres: 15/main: <user> <database> <host(port)> <state>"
    if len(parts) >= 5 and ("(" in parts[4] or parts[4] == "[local]"):
        return "postgres" if parts[3] == DB_NAME else "others"
    return "postgres-shared"


class CpuWindow:
    """CPU used between start and stop, by whom: this script, the processes it started (by process
    group), the shared services (PostgreSQL, Redis), the kernel, and everything else ("others": other
    people's tests and servers on a shared machine, which make the figures noisy)."""

    def __init__(self, children: "Children"):
        self.children = children
        self.before = cpu_snapshot()
        self.t0 = time.monotonic()
        self.after: dict = {}
        self.seconds = 0.0

    def stop(self) -> "CpuWindow":
        self.after = cpu_snapshot()
        self.seconds = time.monotonic() - self.t0
        return self

    def by_group(self) -> dict[str, float]:
        ours = self.children.pgids()
        me = os.getpid()
        groups: dict[str, float] = {}
        for pid, (comm, pgid, ppid, cpu, started) in self.after.items():
            same = pid in self.before and self.before[pid][4] == started  # kernel threads rename themselves
            used = cpu - (self.before[pid][3] if same else 0.0)
            if used <= 0:
                continue
            if pid == me:
                key = "bench-script"
            elif pgid in ours:
                key = self.children.name_of_pgid(pgid)
            elif comm == "postgres":
                key = _postgres_owner(pid)
            elif comm in SERVICES:
                key = comm
            elif ppid == 2 or pid == 2:
                key = "kernel"
            else:
                key = "others"
            groups[key] = groups.get(key, 0.0) + used
        return groups

    def others_share(self) -> float:
        """Share of the machine (all cores) that processes of other people used in the window."""
        return self.by_group().get("others", 0.0) / (self.seconds * (os.cpu_count() or 1)) if self.seconds else 0.0

    def summary(self) -> str:
        groups = sorted(((v, k) for k, v in self.by_group().items() if v >= 0.05), reverse=True)
        return ", ".join(f"{k} {v:.1f}s" for v, k in groups) + f" (in {self.seconds:.1f}s)"


def noise_warning(window: CpuWindow, limit: float = 0.05) -> str | None:
    share = window.others_share()
    if share > limit:
        return (f"WARNING: other processes on this machine used {100 * share:.0f}% of its CPU during the "
                f"measurement; the figures are disturbed, run again on a quiet machine")
    return None


def self_cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


# ---------------------------------------------------------------------------------------------
# HTTP load: wrk when installed (C, event loop, ~20 us of CPU a request), else a lean
# http.client thread pool (a few hundred us of CPU a request: it takes CPU from the server).
# ---------------------------------------------------------------------------------------------

WRK_LUA = r"""
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end

local codes = {}
response = function(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f, ' ..
    '"max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""
# Note: `response` (and so the per-status table) is per wrk thread and not visible in `done`;
# wrk's own summary.errors.status counts non-2xx/3xx answers, which is what we need.


@dataclass
class LoadResult:
    label: str
    client: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    client_cpu_s: float
    machine_busy: float
    server_cpu_s: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (f"{self.label:<28} {self.rps:8.1f} req/s  p50 {self.p50_ms:7.2f} ms  p99 {self.p99_ms:7.2f} ms  "
                f"errors {self.errors}  client CPU {1e6 * self.client_cpu_s / max(1, self.requests):6.0f} us/req  "
                f"server CPU {1e3 * self.server_cpu_s / max(1, self.requests):5.2f} ms/req  "
                f"machine busy {100 * self.machine_busy:3.0f}%")


def post_load(label: str, url: str, body: dict, headers: dict, *, seconds: float, connections: int,
              client: str, server_pgid: int | None = None) -> LoadResult:
    """Closed-loop POST load for `seconds` from `connections` keep-alive connections.

    Also measures the client's own CPU (wrk: a reaped child, so RUSAGE_CHILDREN; the Python client:
    this process), the server's CPU (its process group) and how busy the whole machine was.
    """
    children0, self0 = resource.getrusage(resource.RUSAGE_CHILDREN), self_cpu_seconds()
    cpu0, server0 = cpu_times(), (group_cpu_seconds(server_pgid) if server_pgid else 0.0)
    if client == "wrk":
        result = _wrk(label, url, body, headers, seconds, connections)
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        result.client_cpu_s = (children1.ru_utime - children0.ru_utime) + (children1.ru_stime - children0.ru_stime)
    else:
        result = _threads(label, url, body, headers, seconds, connections)
        result.client_cpu_s = self_cpu_seconds() - self0
    result.machine_busy = machine_busy(cpu0, cpu_times())
    if server_pgid:
        result.server_cpu_s = group_cpu_seconds(server_pgid) - server0
    return result


def _wrk(label, url, body, headers, seconds, connections) -> LoadResult:
    lua = Path(tempfile.mkstemp(prefix="bench-wrk-", suffix=".lua")[1])
    lua.write_text(WRK_LUA)
    env = {**os.environ, "BENCH_BODY": json.dumps(body), "BENCH_AUTH": headers.get("Authorization", "")}
    extra_headers = []
    for k, v in headers.items():
        if k.lower() not in ("authorization", "content-type"):
            extra_headers += ["-H", f"{k}: {v}"]
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
            "-s", str(lua), *extra_headers, url]
    try:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        # communicate() reaped wrk: its CPU shows up in RUSAGE_CHILDREN (no other child of ours
        # exits during a load run).
    finally:
        lua.unlink(missing_ok=True)
    line = next((ln for ln in out.decode().splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.decode()[-2000:]} {out.decode()[-2000:]}")
    data = json.loads(line[len("BENCH_JSON "):])
    errors = data["connect"] + data["read"] + data["write"] + data["status"] + data["timeout"]
    return LoadResult(label, "wrk", data["requests"], data["duration_us"] / 1e6, data["p50_us"] / 1e3,
                      data["p99_us"] / 1e3, errors, 0.0, 0.0, extra=data)


def _threads(label, url, body, headers, seconds, connections) -> LoadResult:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json", **headers}
    deadline = [0.0]
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    start_gate = threading.Barrier(connections + 1)

    def worker(i):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        lat = latencies[i]
        start_gate.wait()
        while True:
            t0 = time.perf_counter()
            if t0 >= deadline[0]:
                break
            try:
                conn.request("POST", parts.path, payload, hdrs)
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 400:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                continue
            lat.append(time.perf_counter() - t0)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    t_start = time.perf_counter()
    start_gate.wait()
    for t in threads:
        t.join(seconds + 30)
    elapsed = time.perf_counter() - t_start
    flat = [x for lat in latencies for x in lat]
    if not flat:
        raise RuntimeError(f"{label}: no request succeeded")
    return LoadResult(label, "python", len(flat), elapsed, 1e3 * percentile(flat, 50), 1e3 * percentile(flat, 99),
                      sum(errors), 0.0, 0.0)


def pick_client(requested: str) -> str:
    if requested == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if requested == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk), use --client python")
    return requested


def ratio_line(name: str, value: float, goal: float | None) -> str:
    verdict = "" if goal is None else (f"  goal >= {goal}: {'MET' if value >= goal else 'NOT MET'}")
    return f"{name}: {value:.3f}{verdict}"
