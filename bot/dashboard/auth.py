"""Signing in with a one-time code, signing out, and the language switch."""

from __future__ import annotations

import secrets

from flask import Blueprint, g, redirect, render_template, request, session, url_for

from bot import clock, puntada
from bot.dashboard import login as codes
from bot.dashboard.i18n import page_languages
from bot.dashboard.web import db, load, no_store, safe_next
from bot.db import unit_of_work

blueprint = Blueprint("auth", __name__)
blueprint.before_request(load)
blueprint.after_request(no_store)
SESSION_KEYS_KEPT = ("lang",)


@blueprint.get("/login")
def login():
    """The sign-in page: a phone number."""
    if g.viewer is not None:
        return redirect(url_for("dashboard.overview"))
    return render_template("login.html", next=safe_next(request.args.get("next")), errors={})


@blueprint.post("/login")
def send_code():
    """Send a code to the phone, if it belongs to a coordinator or a buyer contact."""
    typed, target = request.form.get("phone", "").strip(), safe_next(request.form.get("next"))
    settings = puntada().settings
    phones = codes.phones_for(session=db(), typed=typed, default_region=settings.default_region)
    if not phones:
        return render_template("login.html", next=target, phone=typed, errors={"phone": "phone_bad"}), 400
    client, moment = request.remote_addr or "?", clock.now()
    with unit_of_work(puntada().engine) as work:
        known = [p for p in phones if codes.identity_for(session=work, phone=p)]
        phone = (known or phones)[0]
        codes.lock_phone(session=work, phone=phone)
        if codes.limited(session=work, kind="sent", phone=phone, client=client, now=moment):
            errors = {"phone": "too_many_codes"}
            return render_template("login.html", next=target, phone=typed, errors=errors), 429
        codes.send_code(session=work, phone=phone, client=client, secret=settings.secret_key, now=moment)
    session["pending_phone"], session["next"] = phone, target
    return redirect(url_for("auth.code"))


@blueprint.get("/login/code")
def code():
    """The second step: the code that was sent."""
    if "pending_phone" not in session:
        return redirect(url_for("auth.login"))
    return render_template("code.html", phone=session["pending_phone"], errors={})


@blueprint.post("/login/code")
def check_code():
    """Spend the code; on success start a new session (never the pre-login one)."""
    phone = session.get("pending_phone")
    if not phone:
        return redirect(url_for("auth.login"))
    settings = puntada().settings
    with unit_of_work(puntada().engine) as work:
        outcome, code_id = codes.check_code(
            session=work, phone=phone, code=request.form.get("code", ""),
            client=request.remote_addr or "?", secret=settings.secret_key, now=clock.now(),
        )
        identity = codes.identity_for(session=work, phone=phone) if outcome == codes.Outcome.OK else None
    if identity is None:
        status = 429 if outcome == codes.Outcome.LIMITED else 400
        key = "wrong" if outcome == codes.Outcome.OK else str(outcome)
        return render_template("code.html", phone=phone, errors={"code": f"code_{key}"}), status
    target = session.get("next") or "/"
    start_session({"kind": identity.kind, "id": identity.id, "phone": phone, "code": code_id})
    return redirect(safe_next(target))


def start_session(viewer: dict) -> None:
    """A fresh session for the signed-in viewer: nothing from before survives but the language."""
    kept = {k: session[k] for k in SESSION_KEYS_KEPT if k in session}
    session.clear()
    session.update(kept)
    session["viewer"] = viewer
    session["nonce"] = secrets.token_hex(16)  # a new cookie value, even for the same viewer
    session.permanent = True


@blueprint.post("/logout")
def logout():
    """Sign out: end the session on the server too (a copied cookie dies), forget all but the language."""
    viewer = session.get("viewer")
    if isinstance(viewer, dict) and viewer.get("code") is not None:
        with unit_of_work(puntada().engine) as work:
            codes.sign_out(session=work, code_id=viewer.get("code"))
    kept = {k: session[k] for k in SESSION_KEYS_KEPT if k in session}
    session.clear()
    session.update(kept)
    return redirect(url_for("auth.login"))


@blueprint.post("/language")
def language():
    """Switch the dashboard's language (Spanish or English) and go back."""
    chosen = request.form.get("lang", "")
    if chosen in page_languages():
        session["lang"] = chosen
    return redirect(safe_next(request.form.get("next")))
