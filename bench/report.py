"""bench/results/*.json → the figures table in bench/README.md (between the markers)."""

from __future__ import annotations

import json
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"


def _load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def rows() -> list[str]:
    from bench.run import TARGETS

    out = ["| what | figure (median) | target | | command |", "|---|---|---|---|---|"]
    empty = {}
    for db in ("sqlite", "postgresql"):
        data = _load(f"webhook-{db}")
        if not data:
            continue
        m, command = data["median"], f"`{data['command']}`"
        empty[db] = m
        target = TARGETS[f"ratio_{db}"]
        out += [
            f"| webhook, {db} ({data['runs'][0]['durability']}): Puntada | {m['puntada_rps']:.0f} req/s, "
            f"p50 {m['p50_ms']:.1f} ms, p99 {m['p99_ms']:.1f} ms, {m.get('puntada_cpu_ms', 0):.2f} ms "
            f"CPU a request | p99 < {TARGETS['p99_ms']} ms | {_verdict(m['p99_ms'] < TARGETS['p99_ms'])} "
            f"| {command} |",
        ]
        if "before_rps" in m:
            out.append(f"| webhook, {db}: the two paths before (commit {data['before']}), same run | "
                       f"{m['before_rps']:.0f} req/s, p99 {m['before_p99_ms']:.1f} ms, "
                       f"{m['before_cpu_ms']:.2f} ms CPU | | | {command} |")
            out.append(f"| webhook, {db}: Puntada / before | {m['to_before']:.2f} | ≥ 1 | "
                       f"{_verdict(m['to_before'] >= 1)} | {command} |")
        if "reference_rps" in m:
            out.append(f"| webhook, {db}: reference app (bench/reference.py), same run | "
                       f"{m['reference_rps']:.0f} req/s, p99 {m['reference_p99_ms']:.1f} ms, "
                       f"{m['reference_cpu_ms']:.2f} ms CPU | | | {command} |")
            out.append(f"| webhook, {db}: Puntada / reference | {m['to_reference']:.2f} | ≥ 0.9 | "
                       f"{_verdict(m['to_reference'] >= 0.9)} | {command} |")
        out += [
            f"| webhook, {db}: bare Flask, same gunicorn | {m['bare_rps']:.0f} req/s | | | {command} |",
            f"| webhook, {db}: ratio Puntada / bare | {m['ratio']:.3f} | ≥ {target} | "
            f"{_verdict(m['ratio'] >= target)} | {command} |",
            f"| peak RSS of one web worker after the {db} load | {m['worker_peak_rss_mb']:.0f} MB | "
            f"< {TARGETS['rss_mb']} MB | {_verdict(m['worker_peak_rss_mb'] < TARGETS['rss_mb'])} "
            f"| {command} |",
        ]
    growth = _load("growth")
    if growth:
        m = growth["median"]
        base = empty.get("sqlite")
        drop = 1 - m["puntada_rps"] / base["puntada_rps"] if base else None
        versus = f", throughput {-drop:+.0%} vs empty" if drop is not None else ""
        ok = drop is not None and drop <= TARGETS["growth_drop"]
        out.append(f"| webhook, SQLite after 1,000,000 reports | {m['puntada_rps']:.0f} req/s, p99 "
                   f"{m['p99_ms']:.1f} ms, ratio {m['ratio']:.3f}{versus} | within 10 % of empty | "
                   f"{_verdict(ok)} | `{growth['command']}` |")
    for db in ("sqlite", "postgresql"):
        data = _load(f"fanout-{db}")
        if data:
            s = data["median"]["seconds"]
            out.append(f"| reminders job, 20 cooperatives, 10,000 members, {db} | {s:.2f} s | < 2 s | "
                       f"{_verdict(s < TARGETS['fanout_s'])} | `{data['command']}` |")
    for db in ("sqlite", "postgresql"):
        data = _load(f"dispatch-{db}")
        if data:
            m, r = data["median"], data["runs"][0]
            out.append(f"| dispatch, 20 senders, stand-in answering in 20 ms, {db} (concurrency "
                       f"{r['concurrency']}) | {m['mps']:.0f} messages/s | ≥ 200/s | "
                       f"{_verdict(m['mps'] >= TARGETS['dispatch_mps'])} | `{data['command']}` |")
            out.append(f"| dispatch with TWILIO_MAX_MPS=10, {db}: most requests from one number in any "
                       f"1 s | {m['cap_max_in_any_second']} | ≤ 10 | "
                       f"{_verdict(m['cap_max_in_any_second'] <= 10)} | `{data['command']}` |")
    machine = next((d["machine"] for d in map(_load, ["webhook-sqlite", "webhook-postgresql"]) if d), "?")
    out += ["", f"Machine: {machine}. Every run's figures: `bench/results/*.json`."]
    return out


def write() -> None:
    readme = BENCH / "README.md"
    text = readme.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + START + "\n" + "\n".join(rows()) + "\n" + END + tail)
    print("bench/README.md: figures written")
