"""`puntada serve`: the web app under gunicorn, the same server production uses.

With the scheduler on (the embedded default), the clock runs as a child process that
gunicorn's master starts and stops: one command serves the web app and runs the clock,
workers never run it, and each worker builds its own app and connections after the fork.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable

from gunicorn.app.base import BaseApplication

from bot.config import Settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Server(BaseApplication):
    def __init__(self, options: dict, factory: Callable[[], object] | None = None):
        self.options = options
        self.factory = factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from bot import create_app

        configure_logging()
        return (self.factory or create_app)()


class _SchedulerChild:
    """The clock beside the web workers, in a process of its own.

    gunicorn's master starts it once it is ready and stops it on exit. The master stays a
    single thread, so forking (and re-forking) web workers never copies a running
    scheduler's locks or connections, and web workers never run the clock.
    """

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None

    def when_ready(self, server) -> None:
        command = [sys.executable, "-c", "from bot.cli import main; main()", "scheduler"]
        self.process = subprocess.Popen(command)
        server.log.info("scheduler started beside the web workers (pid %s)", self.process.pid)

    def on_exit(self, server) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def configure_logging() -> None:
    """INFO for Puntada's own lines; APScheduler only when something goes wrong."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def options(*, settings: Settings, workers: int, threads: int) -> dict:
    """gunicorn's settings for the web app (the benchmark serves its yardstick with these too)."""
    return {
        "bind": f"{settings.host}:{settings.port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "accesslog": "-",
        # The path only: no query string, so nothing personal reaches the log.
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
        "timeout": 30,
        "graceful_timeout": 10,
    }


def run(*, settings: Settings, workers: int, threads: int, with_scheduler: bool) -> None:
    """Serve until stopped."""
    serve_app(None, settings=settings, workers=workers, threads=threads, with_scheduler=with_scheduler)


def serve_app(factory: Callable[[], object] | None, *, settings: Settings, workers: int, threads: int,
              with_scheduler: bool) -> None:
    """Serve the app `factory` builds (Puntada's by default) until stopped."""
    config = options(settings=settings, workers=workers, threads=threads)
    if with_scheduler:
        clock = _SchedulerChild()
        config.update(when_ready=clock.when_ready, on_exit=clock.on_exit)
    _Server(config, factory).run()
