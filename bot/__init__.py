"""Puntada: an SMS and WhatsApp bot for embroidery cooperatives' export orders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from bot import logs, resources
from bot.config import Settings
from bot.db import make_engine

MAX_REQUEST_BYTES = 64 * 1024  # Twilio's largest form (1,600 characters and media) is far below


@dataclass(frozen=True)
class Puntada:
    """What the app holds for the lifetime of a process."""

    settings: Settings
    engine: Engine


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app and its command line from settings (by default, the environment)."""
    settings = (settings or Settings.from_env()).with_secret_key()
    logs.install()
    app = Flask(__name__, template_folder=str(resources.templates() / "web"),
                instance_path=str(Path(settings.instance).absolute()))
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES)
    # Twilio reaches us through a proxy in production; its headers give the URL it signed.
    # X-Forwarded-For (the client address the sign-in limits count) only from trusted proxies.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=1, x_host=1, x_port=1)
    engine = make_engine(settings.database_url, pool_size=settings.database_pool_size)
    app.extensions["puntada"] = Puntada(settings=settings, engine=engine)

    from bot import cli, dashboard, delivery, webhook

    app.register_blueprint(webhook.blueprint)
    app.register_blueprint(delivery.blueprint)
    dashboard.init_app(app, public_base_url=settings.public_base_url,
                       exempt=(webhook.blueprint, delivery.blueprint))
    cli.register(app)
    return app


def puntada() -> Puntada:
    """The running app's settings and engine."""
    return current_app.extensions["puntada"]
