"""Puntada's benchmark: `make bench` runs every section, then writes bench/README.md's figures.

    python -m bench.run webhook --db sqlite|postgresql [--runs 3] [--seconds 10] [--before REV]
    python -m bench.run growth [--runs 3] [--reports 1000000]
    python -m bench.run fanout --db sqlite|postgresql [--runs 3]
    python -m bench.run dispatch --db sqlite|postgresql [--runs 3]
    python -m bench.run report        # bench/results/*.json → the table in bench/README.md

Each section writes bench/results/<name>.json with every run's figures, the medians and
the command that produced them. Timings never run under `make test`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bench import scenario

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
BIN = Path(sys.executable).parent
# One thread per worker, as README's production section advises: with four, threads wait on
# each other for Python's lock while one holds the database's (PostgreSQL 398 → 707 req/s).
WORKERS, THREADS, CONNECTIONS, WRK_THREADS = 2, 1, 16, 2
WARMUP_SECONDS = 2
STANDIN_LATENCY = 0.02
TARGETS = {"ratio_sqlite": 0.45, "ratio_postgresql": 0.40, "p99_ms": 50, "growth_drop": 0.10,
           "fanout_s": 2.0, "dispatch_mps": 200, "rss_mb": 120}


# --- servers and wrk ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(kind: str, url: str, log: Path, *, checkout: Path = ROOT):
    """On a free port: `puntada serve --workers 2 --no-scheduler` (of `checkout`, this one or an
    older commit's), the bare Flask yardstick, or the reference app (bench/reference.py)."""
    port = free_port()
    env = dict(os.environ, DATABASE_URL=url, TWILIO_AUTH_TOKEN=scenario.AUTH_TOKEN,
               TWILIO_ACCOUNT_SID=scenario.ACCOUNT_SID, PUBLIC_BASE_URL=scenario.PUBLIC_BASE_URL,
               MESSAGING_BACKEND="console", HOST="127.0.0.1", PORT=str(port), SECRET_KEY="bench",
               PYTHONPATH=str(checkout), PUNTADA_INSTANCE=str(log.parent / "instance"))
    if kind == "puntada":
        # `bot` is imported from `checkout` (first on the path), with this checkout's packages.
        command = [sys.executable, "-c", "from bot.cli import main; main()", "serve", "--workers",
                   str(WORKERS), "--threads", str(THREADS), "--no-scheduler"]
    else:
        command = [sys.executable, "-m", f"bench.{kind}", str(WORKERS), str(THREADS)]
    with open(log, "ab") as out:
        process = subprocess.Popen(command, cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=out,
                                   start_new_session=True)
    try:
        _wait_for(port, process)
        yield port, process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}; see its log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                time.sleep(0.5)  # let every worker finish booting
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start listening within 30 s")


def wrk(port: int, requests_file: Path, seconds: int) -> dict:
    command = ["wrk", "-t", str(WRK_THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--timeout", "5s",
               "-s", str(BENCH / "webhook.lua"), f"http://127.0.0.1:{port}"]
    env = dict(os.environ, REQUESTS=str(requests_file), THREADS=str(WRK_THREADS))
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    result = json.loads(re.search(r"^RESULT (.*)$", out, re.M).group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def cpu_seconds(master: int) -> float:
    """User and system CPU time the master's worker processes have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in _children(master):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def peak_rss_mb(master: int) -> float:
    """The largest VmHWM among the master's worker processes."""
    peaks = []
    for pid in _children(master):
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024)
    return max(peaks)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def count_rows(url: str, table: str) -> int:
    from sqlalchemy import text

    from bot.db import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    return value


# --- sections -----------------------------------------------------------------------------


def webhook_runs(db: str, runs: int, seconds: int, *, past_reports: int = 0, label: str = "",
                 before: str | None = None) -> dict:
    """Puntada under wrk, and in the same run the bare endpoint, the reference app and (with
    `before`) the same server at an older commit, each on its own copy of the same database."""
    work = Path(tempfile.mkdtemp(prefix="puntada-wrk-"))
    log = work / "server.log"
    builder = (lambda url: _seed_with_reports(url, past_reports)) if past_reports else scenario.seed
    rows = []
    with _template(db, builder) as (template_url, world), _checkout(before, work) as old:
        files = _request_files(work, world, seconds)
        for run in range(runs):
            row = dict(run=run + 1)
            servers = [("puntada", ROOT, "puntada")] + ([("before", old, "puntada")] if old else [])
            servers.append(("reference", ROOT, "reference"))
            for name, checkout, kind in servers:
                with _database(db, template_url) as url:
                    row["durability"] = scenario.durability(url)
                    with server(kind, url, log, checkout=checkout) as (port, process):
                        wrk(port, files["warm"], WARMUP_SECONDS)
                        cpu = cpu_seconds(process.pid)
                        result = wrk(port, files["main"], seconds)
                        cpu = cpu_seconds(process.pid) - cpu
                        rss = peak_rss_mb(process.pid)
                    stored = count_rows(url, "inbound_message")
                _check(result, files["count"], stored, name)
                row.update({f"{name}_rps": result["rps"], f"{name}_p50_ms": result["p50_us"] / 1000,
                            f"{name}_p99_ms": result["p99_us"] / 1000, f"{name}_rss_mb": rss,
                            f"{name}_cpu_ms": cpu * 1000 / result["requests"]})
            with server("bare", "sqlite:///:memory:", log) as (port, _):
                wrk(port, files["warm"], WARMUP_SECONDS)
                bare = wrk(port, files["main"], seconds)
            row.update(bare_rps=bare["rps"], bare_p99_ms=bare["p99_us"] / 1000,
                       p50_ms=row["puntada_p50_ms"], p99_ms=row["puntada_p99_ms"],
                       worker_peak_rss_mb=row["puntada_rss_mb"], ratio=row["puntada_rps"] / bare["rps"],
                       to_reference=row["puntada_rps"] / row["reference_rps"])
            if old:
                row["to_before"] = row["puntada_rps"] / row["before_rps"]
            print(f"  {label or db} run {run + 1}: " + " | ".join(
                f"{name} {row[name + '_rps']:.0f}/s p99 {row[name + '_p99_ms']:.1f} ms "
                f"cpu {row[name + '_cpu_ms']:.2f} ms/req"
                for name in ("puntada", "before", "reference") if name + "_rps" in row)
                + f" | bare {row['bare_rps']:.0f}/s | Puntada/reference {row['to_reference']:.2f}"
                + (f" | Puntada/before {row['to_before']:.2f}" if old else ""), flush=True)
            rows.append(row)
    keys = [k for k in rows[0] if isinstance(rows[0][k], float)]
    medians = {k: statistics.median(r[k] for r in rows) for k in keys}
    return {"runs": rows, "before": before, "median": medians}


@contextmanager
def _template(db: str, builder):
    """SQLite: a seeded file copied for every server; PostgreSQL: each server seeds its own."""
    if db == "sqlite":
        with scenario.sqlite_template(builder) as (url, world):
            yield url, world
        return
    with scenario.fresh_postgres() as url:  # seeded once only to learn the world's phones
        world = builder(url)
    yield None, world


@contextmanager
def _checkout(rev: str | None, work: Path):
    """A worktree of an older commit, to serve beside this one; None without a revision."""
    if not rev:
        yield None
        return
    path = work / "before"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(path), rev],
                   check=True, capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False,
                       capture_output=True)


def _seed_with_reports(url: str, count: int):
    world = scenario.seed(url)
    started = time.monotonic()
    scenario.add_past_reports(url, count)
    print(f"  loaded {count:,} reports in {time.monotonic() - started:.1f} s", flush=True)
    return world


@contextmanager
def _database(db: str, template_url: str | None):
    if db == "sqlite":
        with scenario.copy_of(template_url) as url:
            yield url
    else:
        with scenario.fresh_postgres() as url:
            scenario.seed(url)  # the same seed gives the same members and orders every time
            yield url


def _request_files(work: Path, world, seconds: int) -> dict:
    # Enough distinct MessageSids that even the bare endpoint never sees one twice.
    count = max(4000, 6000 * seconds)
    files = {"warm": work / "warm.txt", "main": work / "main.txt", "count": count}
    if not files["main"].exists():
        files["warm"].write_text("\n".join(scenario.signed_requests(world, 4000, prefix="warm")) + "\n")
        files["main"].write_text("\n".join(scenario.signed_requests(world, count, prefix="main")) + "\n")
    return files


def _check(result: dict, available: int, stored: int, name: str = "puntada") -> None:
    errors = result["errors"]
    if any(errors.values()):
        raise SystemExit(f"wrk saw errors against {name}: {errors}")
    if result["requests"] > available:
        raise SystemExit("wrk ran out of distinct MessageSids: raise the request count")
    if stored < result["requests"]:
        raise SystemExit(f"{name} answered {result['requests']} requests but stored {stored} messages")


def fanout_runs(db: str, runs: int) -> dict:
    from bot import jobs
    from bot.db import make_engine

    # A Thursday at 17:30 in El Alto: after every club's 17:00 reminder time, before quiet hours.
    at = datetime(2026, 12, 3, 21, 30, tzinfo=UTC)
    rows = []
    for run in range(runs):
        with _fresh(db) as url:
            scenario.seed(url, cooperatives=20, members=500, with_b=False)
            engine = make_engine(url)
            started = time.perf_counter()
            queued = jobs.run(engine, jobs.reminders, at=at)
            seconds = time.perf_counter() - started
            engine.dispose()
        if queued != 10_000:
            raise SystemExit(f"the reminders job queued {queued}, not 10,000")
        print(f"  fan-out {db} run {run + 1}: {queued} reminders queued in {seconds:.2f} s", flush=True)
        rows.append(dict(run=run + 1, queued=queued, seconds=seconds))
    return {"runs": rows, "median": {"seconds": statistics.median(r["seconds"] for r in rows)}}


@contextmanager
def _fresh(db: str):
    if db == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="puntada-bench-"))
        url = f"sqlite:///{folder / 'bench.db'}"
        from bot.migrate import upgrade

        upgrade(url)
        try:
            yield url
        finally:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
    else:
        with scenario.fresh_postgres() as url:
            yield url


def dispatch_runs(db: str, runs: int, messages: int = 2000) -> dict:
    rows = []
    for run in range(runs):
        with _fresh(db) as url:
            fast = _dispatch_once(url, messages, mps=100)
        with _fresh(db) as url:
            capped = _dispatch_once(url, 400, mps=10)
        row = dict(run=run + 1, messages=messages, seconds=fast["seconds"], mps=fast["mps"],
                   concurrency=fast["concurrency"], cap=10, cap_max_in_any_second=capped["max_in_second"],
                   cap_mps=capped["mps"])
        print(f"  dispatch {db} run {run + 1}: {fast['mps']:.0f} messages/s "
              f"(concurrency {fast['concurrency']}, "
              f"cap 100); with TWILIO_MAX_MPS=10 at most {capped['max_in_second']} from one number in any "
              f"second", flush=True)
        rows.append(row)
    return {"runs": rows, "median": {"mps": statistics.median(r["mps"] for r in rows),
                                     "cap_max_in_any_second": max(r["cap_max_in_any_second"] for r in rows)}}


def _dispatch_once(url: str, messages: int, *, mps: int) -> dict:
    from sqlalchemy import func, select

    from bot.channels import TwilioChannel
    from bot.config import Settings
    from bot.db import make_engine, unit_of_work
    from bot.dispatch import dispatch
    from bot.models import Outbox, OutboxStatus
    from bot.outbox import queue_many
    from tests import twilio_standin

    world = scenario.seed(url, cooperatives=20, members=max(messages // 20, 1), with_b=False)
    engine = make_engine(url)
    world_rows = []
    for k in range(20):
        for i in range(messages // 20):
            world_rows.append(dict(key=f"bench:{k}:{i}", recipient=scenario.member_phone(k, i),
                                   kind="milestone",
                                   body="Bartolina Sisa: pedido A al 50%", cooperative_id=world.ids[k]))
    with unit_of_work(engine) as session:
        queue_many(session=session, rows=world_rows)
    standin = _slow_standin()
    try:
        settings = twilio_standin.settings_for(Settings.from_env({"DATABASE_URL": url}), standin.url,
                                               twilio_max_mps=mps)
        channel = TwilioChannel(settings)
        at = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)  # 14:00 in El Alto: outside quiet hours
        started = time.perf_counter()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with unit_of_work(engine) as session:
                left = session.execute(select(func.count()).select_from(Outbox).where(
                    Outbox.status.in_([OutboxStatus.QUEUED, OutboxStatus.SENDING]))).scalar_one()
            if not left:
                break
            dispatch(engine, settings, channel, at=at, limit=messages)
        seconds = time.perf_counter() - started
    finally:
        standin.stop()
        engine.dispose()
    sent = len(standin.requests)
    if sent != messages:
        raise SystemExit(f"dispatch sent {sent} requests for {messages} messages")
    return dict(seconds=seconds, mps=messages / seconds, max_in_second=_max_in_second(standin.requests),
                concurrency=getattr(settings, "dispatch_concurrency", 1))


def _max_in_second(requests) -> int:
    """The most requests from one From that the stand-in received within any 1.0 s."""
    by_sender: dict[str, list[float]] = {}
    for r in requests:
        by_sender.setdefault(r.form.get("From") or r.form.get("MessagingServiceSid"), []).append(r.at)
    worst = 0
    for times in by_sender.values():
        times.sort()
        start = 0
        for end, t in enumerate(times):
            while t - times[start] >= 1.0:
                start += 1
            worst = max(worst, end - start + 1)
    return worst


def _slow_standin() -> _StandInProcess:
    """The tests' Twilio stand-in answering every request after 20 ms, in a process of its
    own as Twilio is: its HTTP parsing does not take the dispatcher's interpreter lock."""
    return _StandInProcess().start()


class _StandInProcess:
    """Starts the stand-in in a spawned process; on stop, hands back every request it saw."""

    def start(self) -> _StandInProcess:
        context = multiprocessing.get_context("spawn")  # nothing of this process's connections
        self.pipe, there = context.Pipe()
        self.process = context.Process(target=_serve_standin, args=(there, STANDIN_LATENCY), daemon=True)
        self.process.start()
        self.url = self.pipe.recv()
        self.requests: list = []
        return self

    def stop(self) -> None:
        self.pipe.send("stop")
        self.requests = self.pipe.recv()
        self.process.join(10)


def _serve_standin(pipe, latency: float) -> None:
    from tests.twilio_standin import Answer, TwilioStandIn

    class Slow(TwilioStandIn):
        def _next_answer(self, to: str) -> Answer:
            return Answer(delay=latency)

    standin = Slow().start()
    pipe.send(standin.url)
    pipe.recv()  # "stop"
    standin.stop()
    pipe.send(standin.requests)


# --- the command line and the README ------------------------------------------------------


def save(name: str, command: str, data: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    data = dict(data, command=command, measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
                machine=_machine())
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")


def _machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    return f"{os.cpu_count()} cores, {cpu}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("section", choices=["webhook", "growth", "fanout", "dispatch", "report"])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--before", help="also serve this older commit beside the current one")
    args = parser.parse_args(argv)
    command = "python -m bench.run " + shlex.join(argv if argv is not None else sys.argv[1:])
    print(f"== {command}", flush=True)
    if args.section == "webhook":
        runs = webhook_runs(args.db, args.runs, args.seconds, before=args.before)
        save(f"webhook-{args.db}", command, runs)
    elif args.section == "growth":
        save("growth", command, webhook_runs("sqlite", args.runs, args.seconds, past_reports=args.reports,
                                             label=f"sqlite + {args.reports:,} reports"))
    elif args.section == "fanout":
        save(f"fanout-{args.db}", command, fanout_runs(args.db, args.runs))
    elif args.section == "dispatch":
        save(f"dispatch-{args.db}", command, dispatch_runs(args.db, args.runs))
    else:
        from bench.report import write

        write()


if __name__ == "__main__":
    main()
