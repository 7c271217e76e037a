"""The web dashboard through Flask's test client: Juana (coordinator) and the exporter's contact.

Every page, every permission boundary, the sign-in code's rules, CSRF on every POST.
"""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot import admin, clock, create_app
from bot.dashboard import login, queries
from bot.db import unit_of_work
from bot.models import (
    Assignment,
    InboundMessage,
    LoginAttempt,
    LoginCode,
    Member,
    Order,
    Outbox,
    Report,
    Role,
)
from tests import factories as f
from tests import twilio_standin
from tests.factories import ELENA, EXPORTER_CONTACT, JUANA, LIDIA, ROSA

PAGES = ["/", "/orders/1", "/members", "/messages", "/pay", "/simulator"]
CODE_SMS = re.compile(
    r"Puntada: su codigo para entrar al panel es (\d{6})\. Vence en 10 minutos\. No lo comparta\."
)


@pytest.fixture
def dash(app, frozen):
    """The dashboard opened on the story's Thursday evening (the program's clock stands there)."""
    return app


@pytest.fixture
def week(engine, club, now):
    """Rosa reports 60 each day of the week; Lidia 40 on Monday: 460 pieces on order A."""
    for back in range(7):
        f.text(engine, ROSA, "60", at=now - timedelta(days=back))
    f.text(engine, LIDIA, "40", at=now - timedelta(days=3))


def token(client, path: str = "/login") -> str:
    page = client.get(path)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def ask_code(client, phone: str) -> object:
    return client.post("/login", data={"phone": phone, "csrf_token": token(client)})


def last_code(engine, phone: str) -> str:
    with Session(engine) as session:
        body = session.scalars(select(Outbox.body).where(Outbox.kind == "code", Outbox.recipient == phone)
                               .order_by(Outbox.id.desc())).first()
    return CODE_SMS.fullmatch(body).group(1)


def enter_code(client, code: str) -> object:
    return client.post("/login/code", data={"code": code, "csrf_token": token(client, "/login/code")})


def sign_in(client, engine, phone: str = JUANA):
    assert ask_code(client, phone).location == "/login/code"
    answer = enter_code(client, last_code(engine, phone))
    assert answer.status_code == 302, answer.text
    return client


def post(client, path: str, data: dict | None = None, **kwargs):
    return client.post(path, data={**(data or {}), "csrf_token": token(client, "/")}, **kwargs)


def text_of(html: str) -> str:
    """The page's words, tags dropped and spaces squeezed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- signing in -------------------------------------------------------------------------------


def test_without_a_session_every_page_sends_you_to_sign_in(dash, client, club):
    for path in PAGES + ["/pay.csv", "/members/1/edit"]:
        answer = client.get(path)
        assert answer.status_code == 302
        assert answer.location == f"/login?next={path}"
    assert "Escriba su número de celular" in client.get("/login").text


def test_juana_signs_in_with_a_code_sent_to_her_phone(dash, client, engine, club, now):
    assert ask_code(client, "71000099").location == "/login/code"  # typed as locally as she knows it
    assert "Si el número +591*****099 está registrado" in text_of(client.get("/login/code").text)
    assert f.outbox(engine)[0][:2] == (JUANA, "code")
    code = last_code(engine, JUANA)
    with Session(engine) as session:
        stored = session.scalars(select(LoginCode)).one()
    assert stored.code_hash == login.digest("test-secret", JUANA, code) and code not in stored.code_hash
    assert stored.expires_at == now + timedelta(minutes=10) and stored.used_at is None
    answer = enter_code(client, code)
    assert answer.status_code == 302 and answer.location == "/"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    page = client.get("/")
    assert "Pedidos en curso" in page.text and "Juana Condori · Bartolina Sisa" in page.text


def test_sign_in_goes_back_to_the_page_asked_for(dash, client, engine, club):
    client.get("/members")
    client.post("/login", data={"phone": JUANA, "next": "/members", "csrf_token": token(client)})
    assert enter_code(client, last_code(engine, JUANA)).location == "/members"


def test_the_cookie_is_secure_when_the_public_url_is_https(settings, club):
    app = create_app(replace(settings, public_base_url="https://bot.example.org"))
    app.config.update(TESTING=True)
    client = app.test_client()
    answer = client.get("/login", base_url="https://bot.example.org")
    assert "Secure" in answer.headers["Set-Cookie"] and "HttpOnly" in answer.headers["Set-Cookie"]
    app.extensions["puntada"].engine.dispose()


def test_a_forged_forwarded_for_does_not_change_the_address_counted(dash, client, engine, club):
    client.environ_base["REMOTE_ADDR"] = "10.0.0.5"
    client.post("/login", data={"phone": JUANA, "csrf_token": token(client)},
                headers={"X-Forwarded-For": "203.0.113.9"})
    with Session(engine) as session:
        assert session.scalars(select(LoginAttempt.client)).all() == ["10.0.0.5"]


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(settings, club):
    app = create_app(replace(settings, trusted_proxies=1))
    app.config.update(TESTING=True)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    client.post("/login", data={"phone": JUANA, "csrf_token": token(client)},
                headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"})
    with Session(app.extensions["puntada"].engine) as session:
        assert session.scalars(select(LoginAttempt.client)).all() == ["203.0.113.9"]
    app.extensions["puntada"].engine.dispose()


def test_signing_in_starts_a_new_session(dash, client, engine, club):
    ask_code(client, JUANA)
    before = client.get_cookie("puntada_session").value
    csrf_before = token(client, "/login/code")
    enter_code(client, last_code(engine, JUANA))
    assert client.get_cookie("puntada_session").value != before
    assert token(client, "/") != csrf_before
    # The cookie from before signing in (say, planted by someone else) opens nothing.
    client.set_cookie("puntada_session", before)
    assert client.get("/").location == "/login?next=/"


def test_a_code_is_good_for_ten_minutes(dash, client, engine, club, now):
    ask_code(client, JUANA)
    clock.freeze(now + timedelta(minutes=10, seconds=1))
    answer = enter_code(client, last_code(engine, JUANA))
    assert answer.status_code == 400
    assert "El código venció (dura 10 minutos). Pida otro." in answer.text
    assert client.get("/").status_code == 302


def test_a_code_is_good_once(dash, client, engine, club):
    sign_in(client, engine)
    code = last_code(engine, JUANA)
    post(client, "/logout")
    ask_code(client, JUANA)
    answer = enter_code(client, code)
    assert answer.status_code == 400 and "Ese código ya se usó. Pida otro." in answer.text
    assert client.get("/").status_code == 302


def test_five_wrong_codes_lock_the_phone_for_a_while(dash, client, engine, club, now):
    ask_code(client, JUANA)
    for guess in ("000000", "111111", "222222", "333333", "444444"):
        answer = enter_code(client, guess)
        assert answer.status_code == 400
        assert "El código no es correcto." in answer.text
    answer = enter_code(client, last_code(engine, JUANA))  # even the right one, now
    assert answer.status_code == 429
    assert "Demasiados intentos. Espere 15 minutos y pida un código nuevo." in answer.text
    assert f.count(engine, LoginAttempt, LoginAttempt.kind == "failed") == 5
    clock.freeze(now + timedelta(minutes=16))
    ask_code(client, JUANA)
    assert enter_code(client, last_code(engine, JUANA)).location == "/"


def test_concurrent_wrong_codes_cannot_pass_the_limit(dash, client, engine, club):
    ask_code(client, JUANA)
    csrf = token(client, "/login/code")
    cookie = client.get_cookie("puntada_session").value
    start, answers = threading.Barrier(20), []

    def guess(number: int) -> None:
        guesser = dash.test_client()
        guesser.set_cookie("puntada_session", cookie)
        start.wait()
        answer = guesser.post("/login/code", data={"code": f"9{number:05d}", "csrf_token": csrf})
        answers.append(answer.status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [400] * 5 + [429] * 15
    assert f.count(engine, LoginAttempt, LoginAttempt.kind == "failed") == 5
    assert enter_code(client, last_code(engine, JUANA)).status_code == 429  # locked, right code or not


def test_a_new_code_ends_the_earlier_ones(dash, client, engine, club):
    ask_code(client, JUANA)
    first = last_code(engine, JUANA)
    ask_code(client, JUANA)
    answer = enter_code(client, first)
    assert answer.status_code == 400 and "El código venció" in answer.text
    assert enter_code(client, last_code(engine, JUANA)).location == "/"


def test_wrong_codes_from_one_address_lock_it_for_every_phone(dash, engine, club, now):
    with unit_of_work(engine) as session:
        session.add_all(LoginAttempt(phone=f"+5917100{i:04d}", client="10.0.0.7", kind="failed", at=now)
                        for i in range(20))
    there = dash.test_client()
    there.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    ask_code(there, JUANA)
    assert enter_code(there, last_code(engine, JUANA)).status_code == 429
    elsewhere = dash.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.8"
    sign_in(elsewhere, engine)


def test_only_three_codes_per_phone_in_a_quarter_hour(dash, client, engine, club):
    for _ in range(3):
        assert ask_code(client, JUANA).status_code == 302
    answer = ask_code(client, JUANA)
    assert answer.status_code == 429
    assert "Ya se enviaron varios códigos a este número." in answer.text
    assert f.count(engine, Outbox, Outbox.kind == "code") == 3


def test_yesterdays_codes_and_attempts_are_forgotten(dash, client, engine, club, now):
    with unit_of_work(engine) as session:
        session.add(LoginAttempt(phone=JUANA, client="10.0.0.1", kind="failed", at=now - timedelta(days=2)))
        session.add(LoginCode(phone=JUANA, code_hash="0" * 64, expires_at=now - timedelta(days=2)))
    ask_code(client, JUANA)
    assert f.count(engine, LoginAttempt) == 1 and f.count(engine, LoginCode) == 1


def test_members_and_strangers_get_no_code_and_learn_nothing(dash, client, engine, club):
    for phone in (ROSA, "71999999"):
        assert ask_code(client, phone).location == "/login/code"
        assert enter_code(client, "123456").status_code == 400
    assert f.count(engine, Outbox) == 0
    assert f.count(engine, LoginAttempt, LoginAttempt.kind == "sent") == 2


def test_a_number_that_is_no_phone_is_refused_on_the_form(dash, client, club):
    answer = ask_code(client, "hola")
    assert answer.status_code == 400
    assert "Ese número no parece un celular. Escríbalo así: 71234567." in answer.text


def test_every_post_needs_the_csrf_token(dash, client, engine, club):
    answer = client.post("/login", data={"phone": JUANA})
    assert answer.status_code == 400 and "El formulario venció" in answer.text
    assert f.count(engine, Outbox) == 0
    sign_in(client, engine)
    answer = client.post("/members", data={"name": "Ana Poma", "phone": "71234567"})
    assert answer.status_code == 400
    answer = client.post("/orders/1", data={"quantity": "1", "due": "2026-12-01", "assign": "all"},
                         headers={"X-CSRFToken": "forged"})
    assert answer.status_code == 400
    assert f.count(engine, Member) == 4 and f.get(engine, Order, 1).quantity == 15_000


def test_sign_out_is_a_post_and_forgets_the_session(dash, client, engine, club):
    sign_in(client, engine)
    assert client.get("/logout").status_code == 405
    assert post(client, "/logout").location == "/login"
    assert client.get("/").status_code == 302


def test_signing_out_ends_every_copy_of_the_session(dash, client, engine, club):
    sign_in(client, engine)
    copied = client.get_cookie("puntada_session").value
    elsewhere = dash.test_client()  # Juana on her phone too: another session, not signed out
    sign_in(elsewhere, engine)
    thief = dash.test_client()
    thief.set_cookie("puntada_session", copied)
    assert thief.get("/").status_code == 200
    post(client, "/logout")
    assert thief.get("/").status_code == 302 and thief.get("/messages").status_code == 302
    assert elsewhere.get("/").status_code == 200


def test_the_dashboard_speaks_english_when_asked(dash, client, engine, club, week):
    sign_in(client, engine)
    answer = post(client, "/language", {"lang": "en", "next": "/"})
    assert answer.location == "/"
    page = text_of(client.get("/").text)
    assert "Open orders" in page and "460 / 15,000" in page and "606 a day" in page
    assert "Would finish Jul 6, 2027" in page
    assert post(client, "/language", {"lang": "en", "next": "https://evil.example"}).location == "/"


# --- overview and order pages -----------------------------------------------------------------


def test_the_overview_shows_progress_pace_and_risk(dash, client, engine, club, week):
    sign_in(client, engine)
    page = client.get("/")
    assert 'aria-valuenow="3"' in page.text and 'style="width: 3%"' in page.text
    words = text_of(page.text)
    assert "Hoy: 60 piezas" in words and "2 sin reportar hace 2+ días: Elena Quispe, Lidia Apaza" in words
    assert (
        "A blusas En riesgo Andes Export 460 / 15.000 3 % Entrega 23 dic Necesario 606 por día "
        "Ritmo reciente 77 por día Terminaría 6 jul 2027"
    ) in words


def test_the_order_page_draws_the_burn_up_and_who_made_what(dash, client, engine, club, week):
    sign_in(client, engine)
    page = client.get("/orders/1")
    words = text_of(page.text)
    assert '<svg class="burnup"' in page.text and 'class="plan"' in page.text
    # One point at zero, then one per day from the order's start (2 Nov) to today (26 Nov).
    points = re.search(r'<polyline class="done" points="([^"]+)"', page.text).group(1).split()
    assert len(points) == 1 + 25
    assert "Piezas acumuladas por día: 460 de 15.000" in words
    assert "Quién hizo cuánto Nombre Piezas % Rosa Mamani 420 2 Lidia Apaza 40 0" in words
    assert "Asignadas (3) Todas las bordadoras, también las que se sumen." in words
    assert "Cambiar el pedido" in words and "Pago por pieza 3,50" in words


def test_juana_changes_the_quantity_due_date_and_who_works(dash, client, engine, club):
    sign_in(client, engine)
    answer = post(client, "/orders/1", {"quantity": "12000", "due": "2026-12-30", "assign": "some",
                                        "member": [str(club.rosa.id), str(club.elena.id)]})
    assert answer.location == "/orders/1"
    order = f.get(engine, Order, 1)
    assert (order.quantity, str(order.due_date), order.assign_all) == (12_000, "2026-12-30", False)
    with Session(engine) as session:
        assert set(session.scalars(select(Assignment.member_id))) == {club.rosa.id, club.elena.id}
    assert "Se guardó el pedido A." in client.get("/orders/1").text
    post(client, "/orders/1", {"quantity": "12000", "due": "2026-12-30", "assign": "all"})
    assert f.get(engine, Order, 1).assign_all is True and f.count(engine, Assignment) == 0


def test_a_bad_order_form_says_what_is_wrong_and_changes_nothing(dash, client, engine, club):
    sign_in(client, engine)
    answer = post(client, "/orders/1", {"quantity": "0", "due": "mañana", "assign": "some"})
    assert answer.status_code == 400
    assert "La cantidad debe ser un número entero mayor que cero." in answer.text
    assert "Escriba la fecha de entrega como día, mes y año." in answer.text
    assert "Elija «Todas las bordadoras» o marque al menos una socia." in answer.text
    post(client, "/language", {"lang": "en"})
    answer = post(client, "/orders/1", {"quantity": "-3", "due": "2026-12-30", "assign": "all"})
    assert "The quantity must be a whole number above zero." in answer.text
    assert f.get(engine, Order, 1).quantity == 15_000


# --- who may see what -------------------------------------------------------------------------


@pytest.fixture
def second_club(engine, club):
    """Another club, Illimani, coordinated by Sonia, also making order A for Andes Export,
    and order T for another buyer."""
    with unit_of_work(engine) as session:
        coop = admin.add_cooperative(session=session, name="Illimani", number="+59162000200")
        admin.add_member(session=session, cooperative=coop, phone="+59171000201", name="Sonia Ticona",
                         role=Role.COORDINATOR)
        admin.add_member(session=session, cooperative=coop, phone="+59171000202", name="Eva Nina")
        admin.add_buyer(session=session, name="Otro Comprador", contacts=("+59172200009",),
                        language="es", region="BO")
        mine = admin.add_order(session=session, cooperative=coop, buyer_name="Andes Export", code="A",
                               item="chalecos", quantity=500, due="2026-12-20", assign="all")
        other = admin.add_order(session=session, cooperative=coop, buyer_name="Otro Comprador",
                                code="T", item="tapetes", quantity=300, due="2026-12-20", assign="all")
        return mine.id, other.id


def test_a_coordinator_sees_and_changes_only_her_club(dash, client, engine, club, second_club):
    sign_in(client, engine, "+59171000201")
    assert "chalecos" in client.get("/").text and "blusas" not in client.get("/").text
    assert client.get("/orders/1").status_code == 404
    edit = {"quantity": "1", "due": "2026-12-01", "assign": "all"}
    assert post(client, "/orders/1", edit).status_code == 404
    assert client.get(f"/members/{club.rosa.id}/edit").status_code == 404
    assert post(client, f"/members/{club.rosa.id}/active", {"active": "0"}).status_code == 404
    assert "Rosa Mamani" not in client.get("/members").text
    assert f.get(engine, Order, 1).quantity == 15_000 and f.get(engine, Member, club.rosa.id).active


def test_a_buyer_sees_its_orders_in_every_club_and_nothing_else(dash, client, engine, club, second_club):
    mine, other = second_club
    sign_in(client, engine, EXPORTER_CONTACT)
    words = text_of(client.get("/").text)
    assert "A blusas" in words and "A chalecos" in words and "tapetes" not in words
    assert "Bartolina Sisa" in words and "Illimani" in words
    assert client.get(f"/orders/{mine}").status_code == 200
    assert client.get(f"/orders/{other}").status_code == 404
    assert "Cambiar el pedido" not in client.get("/orders/1").text


def test_a_buyer_reads_only_and_never_sees_a_full_phone(dash, client, engine, club, week):
    sign_in(client, engine, EXPORTER_CONTACT)
    page = client.get("/members")
    assert "+591*****001" in page.text and "+591*****002" in page.text
    for phone in (ROSA, LIDIA, ELENA, JUANA):
        assert phone not in page.text
    assert "Juana Condori" not in page.text  # not working on its orders
    for path in ("/messages", "/pay", "/pay.csv", "/simulator", f"/members/{club.rosa.id}/edit"):
        assert client.get(path).status_code == 403, path
    for path in ("/orders/1", "/members", "/members/import", f"/members/{club.rosa.id}/active",
                 "/simulator", "/messages/1/handled"):
        assert post(client, path, {"quantity": "1", "name": "X", "phone": "71234567"}).status_code == 403
    assert f.get(engine, Order, 1).quantity == 15_000 and f.count(engine, Member) == 4


def test_a_coordinator_who_is_deactivated_is_signed_out(dash, client, engine, club):
    sign_in(client, engine)
    with unit_of_work(engine) as session:
        session.get(Member, club.coordinator.id).active = False
    assert client.get("/").location == "/login?next=/"


# --- members ----------------------------------------------------------------------------------


def test_the_members_table(dash, client, engine, club, week):
    with unit_of_work(engine) as session:
        session.get(Member, club.elena.id).opted_out = True
    sign_in(client, engine)
    words = text_of(client.get("/members").text)
    assert "Rosa Mamani +59171000001 SMS Español 60 420 26 nov Activa" in words
    assert "Lidia Apaza +59171000002 SMS Español 0 40 23 nov Activa" in words
    assert "Elena Quispe +59171000003 SMS English 0 0 — No recibe mensajes" in words  # in its own name


def test_juana_registers_a_member_and_is_told_what_is_wrong(dash, client, engine, club):
    sign_in(client, engine)
    form = {"name": "Ana  Poma", "phone": "71234567", "role": "embroiderer", "language": "es",
            "channel": "whatsapp"}
    assert post(client, "/members", form).location == "/members"
    with Session(engine) as session:
        ana = session.scalars(select(Member).where(Member.name == "Ana Poma")).one()
    assert (ana.phone, ana.channel, ana.cooperative_id) == ("+59171234567", "whatsapp", club.cooperative.id)
    assert "Ana Poma quedó registrada." in client.get("/members").text
    answer = post(client, "/members", {**form, "name": "Otra"})
    assert answer.status_code == 400 and "Ese número ya es de una socia del club." in answer.text
    answer = post(client, "/members", {**form, "phone": "12"})
    assert "El número no es un celular válido." in answer.text
    answer = post(client, "/members", {**form, "name": " ", "phone": "71234568"})
    assert "Falta el nombre." in answer.text
    assert f.count(engine, Member) == 5


def test_csv_import_is_all_or_nothing_with_the_line_at_fault(dash, client, engine, club):
    sign_in(client, engine)
    bad = "name,phone,role,language,channel\nAna Poma,71234567,,,\nBeti Cruz,12,,,\n"
    answer = post(client, "/members/import", {"csv": bad})
    assert answer.status_code == 400
    assert "Línea 3: El número no es un celular válido." in text_of(answer.text)
    assert f.count(engine, Member) == 4
    answer = post(client, "/members/import", {"csv": "nombre,celular\n"})
    assert "Línea 1: La primera línea debe ser exactamente: name,phone,role,language,channel" in answer.text
    good = "name,phone,role,language,channel\nAna Poma,71234567,,,\nBeti Cruz,71234568,embroiderer,en,sms\n"
    answer = post(client, "/members/import", {"file": (BytesIO(good.encode()), "socias.csv")},
                  content_type="multipart/form-data")
    assert answer.location == "/members"
    assert "Se registraron 2 socias." in client.get("/members").text
    assert f.count(engine, Member) == 6


def test_juana_edits_deactivates_and_brings_back_a_member(dash, client, engine, club):
    sign_in(client, engine)
    assert "Datos de Rosa Mamani" in client.get(f"/members/{club.rosa.id}/edit").text
    form = {"name": "Rosa Mamani Quispe", "phone": "71000011", "role": "embroiderer", "language": "en",
            "channel": "sms"}
    assert post(client, f"/members/{club.rosa.id}/edit", form).location == "/members"
    rosa = f.get(engine, Member, club.rosa.id)
    assert (rosa.name, rosa.phone, rosa.language) == ("Rosa Mamani Quispe", "+59171000011", "en")
    answer = post(client, f"/members/{club.rosa.id}/edit", {**form, "phone": LIDIA})
    assert answer.status_code == 400 and "Ese número ya es de una socia del club." in answer.text
    post(client, f"/members/{club.rosa.id}/active", {"active": "0"})
    assert f.get(engine, Member, club.rosa.id).active is False
    assert "Rosa Mamani Quispe fue dada de baja." in client.get("/members").text
    post(client, f"/members/{club.rosa.id}/active", {"active": "1"})
    assert f.get(engine, Member, club.rosa.id).active is True
    # Juana cannot lock herself out.
    post(client, f"/members/{club.coordinator.id}/active", {"active": "0"})
    herself = {**form, "phone": JUANA, "role": "embroiderer"}
    answer = post(client, f"/members/{club.coordinator.id}/edit", herself)
    assert answer.status_code == 400
    juana = f.get(engine, Member, club.coordinator.id)
    assert juana.active and juana.role == Role.COORDINATOR


# --- messages ---------------------------------------------------------------------------------


def test_juana_records_for_rosa_what_the_bot_did_not_understand(dash, client, engine, club, now):
    f.text(engine, ROSA, "ya hice las de ayer mas las de hoy", at=now, sid="SM" + "1" * 32)
    message = f.inbound(engine, "SM" + "1" * 32)
    assert message.understood is False
    sign_in(client, engine)
    words = text_of(client.get("/messages").text)
    assert "Mensajes para usted (1) Rosa Mamani" in words
    assert "“ya hice las de ayer mas las de hoy”" in words
    answer = post(client, f"/messages/{message.id}/record", {"pieces": "0", "order": "1"})
    assert answer.status_code == 400
    assert "Escriba cuántas piezas: un número entero mayor que cero." in answer.text
    answer = post(client, f"/messages/{message.id}/record", {"pieces": "35", "order": "1"})
    assert answer.location == "/messages"
    with Session(engine) as session:
        report = session.scalars(select(Report)).one()
    assert (report.member_id, report.pieces, report.source, report.recorded_by_id, report.inbound_id) == (
        club.rosa.id, 35, "dashboard", club.coordinator.id, message.id)
    assert f.done(engine, 1) == 35 and f.inbound(engine, "SM" + "1" * 32).handled is True
    page = text_of(client.get("/messages").text)
    assert "Se anotaron 35 piezas para Rosa Mamani en el pedido A." in page
    assert "No hay mensajes pendientes." in page


def test_recording_for_her_twice_records_once(dash, client, engine, club, now):
    f.text(engine, ROSA, "ya hice las de ayer mas las de hoy", at=now, sid="SM" + "4" * 32)
    message = f.inbound(engine, "SM" + "4" * 32)
    sign_in(client, engine)
    form = {"pieces": "35", "order": "1"}
    assert post(client, f"/messages/{message.id}/record", form).location == "/messages"
    answer = post(client, f"/messages/{message.id}/record", form)
    assert answer.status_code == 409
    assert "Este mensaje ya fue resuelto (o el bot lo entendió): no se anotó nada." in answer.text
    assert f.count(engine, Report) == 1 and f.done(engine, 1) == 35


def test_a_message_the_bot_understood_is_never_recorded_again(dash, client, engine, club, now):
    f.text(engine, ROSA, "20", at=now, sid="SM" + "5" * 32)
    message = f.inbound(engine, "SM" + "5" * 32)
    assert message.understood is True and f.done(engine, 1) == 20
    sign_in(client, engine)
    post(client, "/language", {"lang": "en", "next": "/messages"})
    answer = post(client, f"/messages/{message.id}/record", {"pieces": "7", "order": "1"})
    assert answer.status_code == 409
    assert ("This message was already dealt with (or the bot understood it): nothing was recorded."
            in answer.text)
    assert f.count(engine, Report) == 1 and f.done(engine, 1) == 20


def test_juana_marks_a_message_handled(dash, client, engine, club, now):
    f.text(engine, LIDIA, "mañana no vengo", at=now, sid="SM" + "2" * 32)
    message = f.inbound(engine, "SM" + "2" * 32)
    sign_in(client, engine)
    assert post(client, f"/messages/{message.id}/handled").location == "/messages"
    assert f.inbound(engine, "SM" + "2" * 32).handled is True
    assert f.count(engine, Report) == 0


def test_the_outbox_shows_delivery_and_plain_reasons(dash, client, engine, club):
    with unit_of_work(engine) as session:
        session.add(Outbox(key="r:1", cooperative_id=club.cooperative.id, recipient=ROSA, kind="reminder",
                           body="Hola Rosa, cuantas hiciste hoy?", status="failed", error_code="30006",
                           error="The phone cannot receive SMS (a landline, or a number out of service)"))
    sign_in(client, engine)
    words = text_of(client.get("/messages").text)
    assert ("Rosa Mamani Recordatorio No llegó The phone cannot receive SMS (a landline, or a number out "
            "of service) Hola Rosa, cuantas hiciste hoy?") in words
    assert "Código de acceso" not in words  # sign-in codes are never shown, not even her own


def test_a_coordinator_never_reads_anyone_elses_sign_in_code(dash, client, engine, club, second_club):
    other = dash.test_client()
    ask_code(other, EXPORTER_CONTACT)  # the buyer's code goes out from the first club
    ask_code(dash.test_client(), JUANA)
    codes = [last_code(engine, EXPORTER_CONTACT), last_code(engine, JUANA)]
    for phone in (JUANA, "+59171000201"):
        viewer = dash.test_client()
        sign_in(viewer, engine, phone)
        page = viewer.get("/messages").text
        assert not any(code in page for code in codes)
        assert "Código de acceso" not in text_of(page) and "codigo para entrar" not in page


def test_another_clubs_message_is_not_hers(dash, client, engine, club, second_club, now):
    f.text(engine, ROSA, "ya hice las de ayer mas las de hoy", at=now, sid="SM" + "3" * 32)
    message = f.inbound(engine, "SM" + "3" * 32)
    sign_in(client, engine, "+59171000201")
    assert "ya hice" not in client.get("/messages").text
    assert post(client, f"/messages/{message.id}/handled").status_code == 404
    assert post(client, f"/messages/{message.id}/record", {"pieces": "5", "order": "1"}).status_code == 404
    assert f.count(engine, Report) == 0


def test_juana_hears_the_voice_note_and_sees_the_photo_the_token_never_reaches_her(
        dash, settings, engine, club, second_club, now):
    with twilio_standin.running() as twilio:
        app = create_app(twilio_standin.settings_for(settings, twilio.url))
        audio = twilio.keep_media("MM" + "1" * 32, "ME0", "audio/ogg", b"OggS voice")
        photo = twilio.keep_media("MM" + "1" * 32, "ME1", "image/jpeg", b"\xff\xd8 photo")
        f.receive_media(engine, LIDIA, "mira", [(audio, "audio/ogg"), (photo, "image/jpeg")], at=now,
                        sid="MM" + "1" * 32)
        viewer = sign_in(app.test_client(), engine)
        page = viewer.get("/messages").text
        message = f.inbound(engine, "MM" + "1" * 32)
        assert f'<audio controls preload="none" src="/messages/{message.id}/media/0">' in page
        assert f'<img src="/messages/{message.id}/media/1"' in page
        assert twilio_standin.AUTH_TOKEN not in page and "api.twilio.com" not in page
        answer = viewer.get(f"/messages/{message.id}/media/0")
        assert (answer.status_code, answer.mimetype, answer.data) == (200, "audio/ogg", b"OggS voice")
        assert answer.headers["Content-Disposition"] == "inline"
        # Twilio's API got the credentials; its CDN, another host, got none.
        seen = [(fetch.path.startswith("/cdn/"), fetch.authorization is not None) for fetch in twilio.fetches]
        assert seen == [(False, True), (True, False)]
        assert viewer.get(f"/messages/{message.id}/media/7").status_code == 404
        other = sign_in(app.test_client(), engine, "+59171000201")
        assert other.get(f"/messages/{message.id}/media/0").status_code == 404
        app.extensions["puntada"].engine.dispose()


def test_without_twilio_credentials_a_medium_is_unavailable(dash, client, engine, club, now):
    url = f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Messages/MM{'2' * 32}/Media/ME0"
    f.receive_media(engine, LIDIA, "", [(url, "audio/ogg")], at=now, sid="MM" + "2" * 32)
    sign_in(client, engine)
    message = f.inbound(engine, "MM" + "2" * 32)
    answer = client.get(f"/messages/{message.id}/media/0")
    assert (answer.status_code, answer.text) == (
        503, "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are needed to fetch media\n")


def test_recorded_for_her_on_the_day_of_her_message(dash, client, engine, club, frozen):
    sunday_night = clock.instant(club.cooperative, datetime(2026, 11, 29, 23, 30))
    f.text(engine, ROSA, "ya termine las de hoy", at=sunday_night, sid="SM" + "9" * 32)
    frozen(clock.instant(club.cooperative, datetime(2026, 12, 1, 9, 0)))  # Tuesday morning, December
    sign_in(client, engine)
    message = f.inbound(engine, "SM" + "9" * 32)
    answer = post(client, f"/messages/{message.id}/record", {"pieces": "12", "order": "1"})
    assert answer.location == "/messages"
    with Session(engine) as session:
        report = session.scalars(select(Report)).one()
    assert (report.pieces, report.local_date) == (12, date(2026, 11, 29))  # November's work, November's pay


# --- pay --------------------------------------------------------------------------------------


def test_the_months_pay_per_member_and_as_csv(dash, client, engine, club, week, now):
    f.order(engine, club, code="MT", assign="all")  # no piece rate
    f.text(engine, LIDIA, "MT 10", at=now)
    sign_in(client, engine)
    words = text_of(client.get("/pay?month=2026-11").text)
    assert "Noviembre 2026" in words
    assert ("Lidia Apaza A · blusas 40 3,50 140,00 MT · manteles 10 sin tarifa — Total de la socia 50 140,00 "
            "Rosa Mamani A · blusas 420 3,50 1.470,00 Total de la socia 420 1.470,00 "
            "Total del club 470 1.610,00") in words
    assert "No hay piezas reportadas en este mes." in client.get("/pay?month=2026-10").text
    assert "Elija un mes válido." in client.get("/pay?month=noviembre").text
    answer = client.get("/pay.csv?month=2026-11")
    assert answer.headers["Content-Disposition"] == 'attachment; filename="puntada-pay-2026-11.csv"'
    assert answer.text == (
        "month,member,phone,order,item,pieces,piece_rate,amount\n"
        "2026-11,Lidia Apaza,+59171000002,A,blusas,40,3.50,140.00\n"
        "2026-11,Lidia Apaza,+59171000002,MT,manteles,10,,\n"
        "2026-11,Rosa Mamani,+59171000001,A,blusas,420,3.50,1470.00\n"
    )


def test_odd_numbers_and_months_are_told_apart_not_a_500(dash, client, engine, club, now):
    f.text(engine, ROSA, "ya hice las de ayer mas las de hoy", at=now, sid="SM" + "6" * 32)
    message = f.inbound(engine, "SM" + "6" * 32)
    sign_in(client, engine)
    for pieces in ("²", "３", "1²", "-1", "10000000000"):
        answer = post(client, f"/messages/{message.id}/record", {"pieces": pieces, "order": "1"})
        assert answer.status_code == 400, pieces
    answer = post(client, "/orders/1", {"quantity": "²", "due": "2026-12-01", "assign": "some",
                                        "member": ["²", str(club.rosa.id)]})
    assert answer.status_code == 400
    assert client.get("/simulator?member=²").status_code == 200
    assert f.count(engine, Report) == 0 and f.get(engine, Order, 1).quantity == 15_000
    for month in ("9999-12", "1999-12", "2101-01", "2026-13", "２０２６-11", "2026-1"):
        answer = client.get(f"/pay?month={month}")
        assert answer.status_code == 400 and "Elija un mes válido." in answer.text, month
        answer = client.get(f"/pay.csv?month={month}")
        assert answer.status_code == 400, month
        assert "Elija un mes válido, del año 2000 al 2100, escrito así: 2026-11." in answer.text
    assert client.get("/pay?month=2100-12").status_code == 200
    too_big = 2**31
    assert client.get(f"/orders/{too_big}").status_code == 404
    assert client.get(f"/members/{too_big}/edit").status_code == 404
    for path in (f"/orders/{too_big}", f"/members/{too_big}/edit", f"/members/{too_big}/active",
                 f"/messages/{too_big}/handled", f"/messages/{too_big}/record", f"/orders/{2**63}"):
        assert post(client, path, {"pieces": "1", "order": "1"}).status_code == 404, path


def test_the_pay_csv_never_carries_a_formula(dash, client, engine, club, week):
    with unit_of_work(engine) as session:
        session.get(Member, club.rosa.id).name = '=HYPERLINK("http://x.example","Rosa")'
        session.get(Member, club.lidia.id).name = "-2+3"
        session.get(Order, 1).item = "@SUM(1)"
    sign_in(client, engine)
    answer = client.get("/pay.csv?month=2026-11")
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.text == (
        "month,member,phone,order,item,pieces,piece_rate,amount\n"
        "2026-11,'-2+3,+59171000002,A,'@SUM(1),40,3.50,140.00\n"
        '2026-11,"\'=HYPERLINK(""http://x.example"",""Rosa"")",+59171000001,A,\'@SUM(1),420,3.50,1470.00\n'
    )


def test_no_dashboard_page_is_kept_in_a_cache(dash, client, engine, club):
    assert client.get("/login").headers["Cache-Control"] == "no-store"
    sign_in(client, engine)
    for path in PAGES:
        assert client.get(path).headers["Cache-Control"] == "no-store", path


# --- simulator --------------------------------------------------------------------------------


def test_the_simulator_texts_the_bot_as_rosa(dash, client, engine, club):
    sign_in(client, engine)
    page = client.get(f"/simulator?member={club.rosa.id}")
    assert "Todavía no hay mensajes de Rosa Mamani." in page.text
    answer = post(client, "/simulator", {"member": str(club.rosa.id), "body": "hice 20"})
    assert answer.location == f"/simulator?member={club.rosa.id}"
    with Session(engine) as session:
        message = session.scalars(select(InboundMessage)).one()
    assert (message.member_id, message.sender, message.recipient, message.body) == (
        club.rosa.id, ROSA, f.COOP_NUMBER, "hice 20")
    assert message.message_sid.startswith("SM") and len(message.message_sid) == 34
    assert f.reports(engine) == [("A", 20, "accepted")]
    page = client.get(f"/simulator?member={club.rosa.id}").text
    assert '<li class="sent">hice 20</li>' in page
    assert f'<li class="received">{message.reply}</li>' in page
    assert message.reply.startswith("Rosa, anoté 20 en el pedido A. Tu mes: 20.")


def test_the_simulator_refuses_strangers_and_empty_messages(dash, client, engine, club, second_club):
    sign_in(client, engine)
    with Session(engine) as session:
        eva = session.scalars(select(Member).where(Member.name == "Eva Nina")).one()
    answer = post(client, "/simulator", {"member": str(eva.id), "body": "hice 20"})
    assert answer.status_code == 400 and "Elija una socia activa de su club." in answer.text
    answer = post(client, "/simulator", {"member": str(club.rosa.id), "body": "  "})
    assert answer.status_code == 400 and "Escriba un mensaje antes de enviar." in answer.text
    assert f.count(engine, InboundMessage) == 0



def test_static_files_are_served_by_the_app(client):
    files = (("puntada.css", "text/css"), ("puntada.js", "javascript"), ("puntada.svg", "image/svg"))
    for name, kind in files:
        answer = client.get(f"/assets/{name}")
        assert answer.status_code == 200 and kind in answer.content_type


def test_pay_amounts_are_exact_decimals(engine, club):
    f.text(engine, ROSA, "3", at=f.STORY_START + timedelta(days=1))
    with Session(engine) as session:
        rows = queries.pay(session=session, cooperative=club.cooperative, month=date(2026, 11, 1))
    assert rows[0].amount == Decimal("10.50")
