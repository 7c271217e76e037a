"""`puntada serve`: the web app under gunicorn, the same server production uses.

With the scheduler on (the embedded default), the clock runs as a thread of gunicorn's
master process: workers are forked from the master and never run it, and each worker
builds its own app and database connections after the fork.
"""

from __future__ import annotations

import logging

from gunicorn.app.base import BaseApplication

from bot.config import Settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Server(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from bot import create_app

        configure_logging()
        return create_app()


class _MasterClock:
    """The scheduler in gunicorn's master, started once it is ready, stopped on exit."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = None
        self.scheduler = None

    def when_ready(self, server) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        from bot.channels import channel_for
        from bot.db import make_engine
        from bot.dispatch import dispatch
        from bot.scheduler import Clock

        configure_logging()
        self.engine = make_engine(self.settings.database_url, pool_size=2)
        channel = channel_for(self.settings)
        self.scheduler = BackgroundScheduler()
        Clock(self.scheduler, self.engine, self.settings,
              lambda: dispatch(self.engine, self.settings, channel)).start()
        server.log.info("scheduler started in the master process")

    def post_fork(self, server, worker) -> None:
        # The worker inherited the master's pooled connections: forget them without
        # closing, so the master's connections stay intact (SQLAlchemy's fork recipe).
        if self.engine is not None:
            self.engine.dispose(close=False)

    def on_exit(self, server) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)


def configure_logging() -> None:
    """INFO for Puntada's own lines; APScheduler only when something goes wrong."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def run(*, settings: Settings, workers: int, threads: int, with_scheduler: bool) -> None:
    """Serve until stopped."""
    options = {
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
    if with_scheduler:
        clock = _MasterClock(settings)
        options.update(when_ready=clock.when_ready, post_fork=clock.post_fork, on_exit=clock.on_exit)
    _Server(options).run()
