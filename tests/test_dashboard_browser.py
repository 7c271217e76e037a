"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against a real server.

A coordinator of the demo club signs in with the code the outbox holds, sees an order's
progress bar and burn-up chart, texts the bot from the simulator and reads its reply,
and downloads the month's pay as CSV. `make screenshots` saves its screenshots to
docs/screenshots/.

The demo is loaded as of a Friday evening in November and the program's clock runs from
there (`bot.clock.travel`), so the story reads the same on any day the tests run. The
browser keeps its own clock: nothing here depends on it (the session cookie's expiry is
Flask's, counted from the real time).
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlmodel import Session
from werkzeug.serving import make_server

from bot import clock, create_app, demo
from bot.config import Settings
from bot.db import unit_of_work
from bot.inbound import Inbound, Media, receive
from bot.migrate import upgrade
from bot.models import Outbox
from tests import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# `make screenshots` refreshes docs/screenshots/; an ordinary run keeps the work tree clean.
SCREENSHOTS = (ROOT / "docs" / "screenshots" if os.environ.get("PUNTADA_SCREENSHOTS")
               else Path(tempfile.mkdtemp(prefix="puntada-screenshots-")))
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 780}  # a small Android phone
# A Friday evening in El Alto: the demo's ten days of reports run from 17 to 26 November.
DEMO_AT = datetime(2026, 11, 27, 18, 30, tzinfo=ZoneInfo("America/La_Paz"))

playwright_api = pytest.importorskip("playwright.sync_api")
if not CHROMIUM.exists():
    pytest.skip("Chromium is not installed (make test installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, object]]:
    """The app with the demo club, served by a real HTTP server on a free local port."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'puntada.db'}"
    upgrade(url)
    app = create_app(Settings(database_url=url, secret_key="browser-test", messaging_backend="console"))
    engine = app.extensions["puntada"].engine
    with unit_of_work(engine) as session:
        demo.load(session=session, now=DEMO_AT)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", engine
    server.shutdown()
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def demo_evening() -> None:
    """The program's clock reads the demo's Friday evening, and ticks on from there."""
    clock.travel(DEMO_AT)


def latest_code(engine) -> str:
    with Session(engine) as session:
        query = select(Outbox.body).where(Outbox.kind == "code").order_by(Outbox.id.desc())
        body = session.scalars(query).first()
    return re.search(r"\b\d{6}\b", body).group(0)


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_coordinator_signs_in_follows_an_order_texts_the_bot_and_downloads_pay(
    served, browser, demo_evening, tmp_path
):
    base, engine = served
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()

    # Juana signs in with the code the bot sent her (console mode: it waits in the outbox).
    page.goto(f"{base}/")
    assert page.url == f"{base}/login?next=/"
    page.fill("#phone", "71500001")
    page.click("button:has-text('Enviar código')")
    page.wait_for_url(f"{base}/login/code")
    page.fill("#code", latest_code(engine))
    page.click("main button:has-text('Entrar')")
    page.wait_for_url(f"{base}/")
    assert page.locator("h1").inner_text() == "Pedidos en curso"
    cards = page.locator("article.order-card")
    assert cards.count() == 2
    assert page.locator("article[data-order='A'] [role=progressbar]").is_visible()
    shoot(page, "overview-desktop")

    # Order A: its progress bar and burn-up chart.
    page.click("article[data-order='A'] h2 a")
    assert page.locator("h1").inner_text().startswith("A blusas bordadas")
    assert page.locator("[role=progressbar]").first.is_visible()
    chart = page.locator("svg.burnup")
    assert chart.is_visible()
    points = chart.locator("polyline.done").get_attribute("points").split()
    assert len(points) >= 10  # one point per day since the order started
    assert chart.locator("line.plan").count() == 1
    order_url = page.url
    shoot(page, "order-desktop")

    # The simulator: Sabina, who works on order A only, reports 20 pieces and the bot answers her.
    page.click("nav a:has-text('Simulador')")
    page.select_option("#as", label="Sabina Flores Cusi (SMS)")
    page.wait_for_url(re.compile(r".*/simulator\?member=\d+"))
    page.fill("input[name=body]", "hice 20")
    page.click(".compose button")
    page.wait_for_url(re.compile(r".*/simulator\?member=\d+"))
    assert page.locator(".conversation .sent").last.inner_text() == "hice 20"
    reply = page.locator(".conversation .received").last.inner_text()
    assert reply == "Sabina, anoté 20 en el pedido A. Tu mes: 398. Pedido A: 4.172/15.000 (27 %)"
    shoot(page, "simulator-desktop")

    # Elena asks when they are paid, and sends a voice note: both wait for Juana in Mensajes.
    receive(engine, Inbound("SM" + "e" * 32, "+59171500004", demo.NUMBER, "cuando nos pagan?"))
    receive(engine, Inbound("MM" + "e" * 32, "whatsapp:+59171500004", f"whatsapp:{demo.NUMBER}", "",
                            media=(Media(f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Messages/"
                                         f"MM{'e' * 32}/Media/ME0", "audio/ogg"),)))
    page.click("nav a:has-text('Mensajes')")
    assert page.locator("h2").first.inner_text() == "Mensajes para usted (2)"
    assert page.locator(".inbox audio").count() == 1
    assert "cuando nos pagan?" in page.locator(".inbox").inner_text()
    shoot(page, "messages-desktop")

    # November's pay, as CSV: Sabina's pieces on A, those 20 included, at Bs 3,50 each.
    page.click("nav a:has-text('Pagos')")
    with page.expect_download() as download_info:
        page.click("a:has-text('Descargar CSV')")
    download = download_info.value
    assert download.suggested_filename == "puntada-pay-2026-11.csv"
    path = tmp_path / "pay.csv"
    download.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0] == ["month", "member", "phone", "order", "item", "pieces", "piece_rate", "amount"]
    sabina = [r for r in rows[1:] if r[1] == "Sabina Flores Cusi"]
    assert sabina == [["2026-11", "Sabina Flores Cusi", "+59171500008", "A", "blusas bordadas",
                       "398", "3.50", "1393.00"]]

    # The same pages on a phone's screen.
    phone = browser.new_context(viewport=PHONE, storage_state=context.storage_state())
    small = phone.new_page()
    for path, name in (("/", "overview-phone"), (order_url[len(base):], "order-phone"),
                       ("/simulator", "simulator-phone"), ("/messages", "messages-phone")):
        small.goto(base + path)
        assert small.locator("main h1").is_visible()
        assert small.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shoot(small, name)
    phone.close()
    context.close()
