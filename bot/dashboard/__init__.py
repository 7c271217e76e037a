"""The web dashboard: coordinators and buyer contacts see their orders at a glance.

Server-rendered pages from templates/web/, their words from the gettext catalogs in
templates/web/translations/ (bot/dashboard/i18n.py),
CSS, JavaScript and icons from this package's static/ folder (no CDN).
"""

from __future__ import annotations

from datetime import timedelta

from babel.numbers import format_decimal
from flask import Blueprint, Flask, g, get_flashed_messages, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from bot import languages, render
from bot.dashboard import auth, i18n, pages
from bot.dashboard.i18n import because, language, t
from bot.dashboard.texts import TEXTS
from bot.dashboard.web import close_db
from bot.phones import mask

SESSION_LIFETIME = timedelta(hours=12)
csrf = CSRFProtect()


def init_app(app: Flask, *, public_base_url: str, exempt=()) -> None:
    """Register the dashboard's pages, its CSRF checks and cookie rules on the app."""
    app.config.update(
        SESSION_COOKIE_NAME="puntada_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Secure only behind https, so that `make run` over plain http on a laptop still signs in.
        SESSION_COOKIE_SECURE=public_base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    i18n.init_app(app)
    csrf.init_app(app)
    for blueprint in exempt:  # Twilio signs its posts; it cannot carry our token
        csrf.exempt(blueprint)
    app.url_map.converters["id"] = pages.IdConverter
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(_static())
    app.teardown_appcontext(close_db)
    app.context_processor(_globals)
    for code in (403, 404):
        app.register_error_handler(code, _error)
    app.register_error_handler(CSRFError, _csrf_error)


def _static() -> Blueprint:
    return Blueprint("assets", __name__, static_folder="static", static_url_path="/assets")


def _globals() -> dict:
    return {
        "t": t,
        "has": lambda key: key in TEXTS,
        "because": because,
        "page_languages": [languages.get(code) for code in i18n.page_languages()],
        "member_languages": [languages.get(code) for code in languages.codes()],
        "language_name": lambda code: languages.get(code).name,
        "lang": language(),
        "viewer": g.get("viewer"),
        "mask": mask,
        "flashes": lambda: get_flashed_messages(with_categories=True),
        "num": lambda value: render.number(value, language()),
        "money": lambda value: format_decimal(value, format="#,##0.00", locale=language()),
        "day": lambda value, ref=None: render.day(value, language(), ref),
    }


def _error(error):
    if not request.blueprint or request.blueprint not in ("dashboard", "auth"):
        return error
    return render_template("error.html", status=error.code), error.code


def _csrf_error(_error):
    return render_template("error.html", status=400, csrf=True), 400
