"""The cost of one message inside Python, without a server, wrk or other processes.

    python -m bench.inprocess --db sqlite|postgresql [--messages 2000] [--profile]

Seeds the benchmark's club (500 embroiderers, orders A and B) in a fresh database, then
hands the benchmark's mixed messages to `bot.inbound.receive` one after another and
prints the mean time per message; with --profile, cProfile's 40 costliest functions too.
This is where an optimisation is found and checked before `make bench` measures it.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl

from bench import scenario
from bot import clock
from bot.db import make_engine
from bot.inbound import Inbound, receive
from bot.migrate import upgrade

WARMUP = 200


@contextmanager
def database(db: str):
    if db == "postgresql":
        with scenario.fresh_postgres() as url:
            yield url
        return
    folder = Path(tempfile.mkdtemp(prefix="puntada-inprocess-"))
    try:
        url = f"sqlite:///{folder / 'bench.db'}"
        upgrade(url)
        yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def messages(world: scenario.World, count: int) -> list[Inbound]:
    """The webhook benchmark's messages, as `receive` takes them."""
    found = []
    for line in scenario.signed_requests(world, count, prefix="inprocess"):
        form = dict(parse_qsl(line.split("\t", 1)[1], keep_blank_values=True))
        found.append(Inbound(form["MessageSid"], form["From"], form["To"], form["Body"], clock.now()))
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)
    with database(args.db) as url:
        world = scenario.seed(url)
        engine = make_engine(url)
        sent = messages(world, WARMUP + args.messages)
        for message in sent[:WARMUP]:
            receive(engine, message)
        profile = cProfile.Profile() if args.profile else None
        if profile:
            profile.enable()
        started = time.perf_counter()
        for message in sent[WARMUP:]:
            receive(engine, message)
        elapsed = time.perf_counter() - started
        if profile:
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(40)
        engine.dispose()
    print(f"{args.db}: {elapsed / args.messages * 1000:.3f} ms a message, one after another"
          f" ({args.messages} messages{', under cProfile' if profile else ''})")


if __name__ == "__main__":
    main()
