"""Puntada's benchmark: `make bench` runs every section, then writes bench/README.md's figures.

    python -m bench.run webhook --db sqlite|postgresql [--runs 3] [--seconds 10]
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
def server(kind: str, url: str, log: Path):
    """`puntada serve --workers 2 --no-scheduler`, or the bare Flask yardstick, on a free port."""
    port = free_port()
    env = dict(os.environ, DATABASE_URL=url, TWILIO_AUTH_TOKEN=scenario.AUTH_TOKEN,
               TWILIO_ACCOUNT_SID=scenario.ACCOUNT_SID, PUBLIC_BASE_URL=scenario.PUBLIC_BASE_URL,
               MESSAGING_BACKEND="console", HOST="127.0.0.1", PORT=str(port), SECRET_KEY="bench",
               PYTHONPATH=str(ROOT))
    if kind == "puntada":
        command = [str(BIN / "puntada"), "serve", "--workers", str(WORKERS), "--threads", str(THREADS),
                   "--no-scheduler"]
    else:
        command = [sys.executable, "-m", "bench.bare", str(WORKERS), str(THREADS)]
    with open(log, "ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=out,
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


def webhook_runs(db: str, runs: int, seconds: int, *, past_reports: int = 0, label: str = "") -> dict:
    work = Path(tempfile.mkdtemp(prefix="puntada-wrk-"))
    log = work / "server.log"
    builder = (lambda url: _seed_with_reports(url, past_reports)) if past_reports else scenario.seed
    if db == "sqlite":
        template = scenario.sqlite_template(builder)
        template_url, world = template.__enter__()
    else:
        template, world = None, None
    rows = []
    try:
        for run in range(runs):
            with _database(db, template_url if template else None) as url:
                if world is None or db != "sqlite":
                    world = scenario.seed(url)
                files = _request_files(work, world, seconds)
                durable = scenario.durability(url)
                with server("puntada", url, log) as (port, process):
                    wrk(port, files["warm"], WARMUP_SECONDS)
                    puntada = wrk(port, files["main"], seconds)
                    rss = peak_rss_mb(process.pid)
                stored = count_rows(url, "inbound_message")
            with server("bare", "sqlite:///:memory:", log) as (port, _):
                wrk(port, files["warm"], WARMUP_SECONDS)
                bare = wrk(port, files["main"], seconds)
            _check(puntada, files["count"], stored)
            row = dict(run=run + 1, durability=durable, puntada_rps=puntada["rps"],
                       p50_ms=puntada["p50_us"] / 1000, p99_ms=puntada["p99_us"] / 1000,
                       max_ms=puntada["max_us"] / 1000, bare_rps=bare["rps"],
                       bare_p50_ms=bare["p50_us"] / 1000,
                       bare_p99_ms=bare["p99_us"] / 1000, ratio=puntada["rps"] / bare["rps"],
                       worker_peak_rss_mb=rss, stored=stored, errors=puntada["errors"])
            print(f"  {label or db} run {run + 1}: puntada {row['puntada_rps']:.0f}/s "
                  f"p50 {row['p50_ms']:.1f} ms "
                  f"p99 {row['p99_ms']:.1f} ms | bare {row['bare_rps']:.0f}/s | ratio {row['ratio']:.3f} "
                  f"| worker RSS {rss:.0f} MB", flush=True)
            rows.append(row)
    finally:
        if template:
            template.__exit__(None, None, None)
    return {"runs": rows, "median": {k: statistics.median(r[k] for r in rows) for k in
                                     ("puntada_rps", "p50_ms", "p99_ms", "bare_rps", "ratio",
                                      "worker_peak_rss_mb")}}


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
            yield url


def _request_files(work: Path, world, seconds: int) -> dict:
    # Enough distinct MessageSids that even the bare endpoint never sees one twice.
    count = max(4000, 6000 * seconds)
    files = {"warm": work / "warm.txt", "main": work / "main.txt", "count": count}
    if not files["main"].exists():
        files["warm"].write_text("\n".join(scenario.signed_requests(world, 4000, prefix="warm")) + "\n")
        files["main"].write_text("\n".join(scenario.signed_requests(world, count, prefix="main")) + "\n")
    return files


def _check(result: dict, available: int, stored: int) -> None:
    errors = result["errors"]
    if any(errors.values()):
        raise SystemExit(f"wrk saw errors against Puntada: {errors}")
    if result["requests"] > available:
        raise SystemExit("wrk ran out of distinct MessageSids: raise the request count")
    if stored < result["requests"]:
        raise SystemExit(f"Puntada answered {result['requests']} requests but stored {stored} messages")


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
    args = parser.parse_args(argv)
    command = "python -m bench.run " + shlex.join(argv if argv is not None else sys.argv[1:])
    print(f"== {command}", flush=True)
    if args.section == "webhook":
        save(f"webhook-{args.db}", command, webhook_runs(args.db, args.runs, args.seconds))
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
