"""Members understood in their own words, measured: every message of the corpus through the bot.

tests/corpus/members.toml holds messages written the way the members of a club in El Alto type
them, each case with what a careful coordinator would have recorded (or that she would ask,
or that there is nothing to record). Every case is told to the whole bot, as a fresh member
of the "Nueva Esperanza" club, and what the bot recorded is compared with that reading:

- right: it recorded what the coordinator would, asked where she would ask, recorded nothing
  where there is nothing; and a message for the coordinator reached her;
- wrong: it recorded another count, order or day than she meant;
- asked: it asked (and recorded nothing) where a person would have been sure.

tests/corpus/numbers_es.toml: the Spanish number phrases of the test suites of text2num and
num2words, each said by a member: recorded right or asked, none recorded wrong.
The scores are printed at the end of `make test`.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot import admin
from bot.db import unit_of_work
from bot.inbound import Inbound, Media, receive
from bot.models import Assignment, InboundMessage, Order, Report, ReportStatus, Role

CORPUS = Path(__file__).parent / "corpus"
LA_PAZ = ZoneInfo("America/La_Paz")
MOMENT = datetime(2026, 11, 26, 19, 0, tzinfo=LA_PAZ)  # a Thursday evening in El Alto
COOP_NUMBER = "+59162000300"
ORDERS = {"A": ("blusas bordadas", "Andes Export", 15_000), "M": ("manteles bordados", "Casa Textil", 3_000),
          "C": ("chalinas", "Alpaca Andina", 1_500)}
MEMBERS = {"ana": ("A",), "bea": ("A", "M"), "carla": ("A", "M", "C"), "dora": ("M",), "eva": ("C",),
           "fany": ("A",)}
NAMES = {"ana": "Ana Mamani", "bea": "Beatriz Quispe", "carla": "Carla Condori", "dora": "Dora Apaza",
         "eva": "Eva Choque", "fany": "Fanny Smith"}
GOALS = {"right": 0.98, "wrong": 0, "asked": 0.02}
PLAUSIBLE_MAX = 300  # the default: a larger count is held until she confirms it
SCORES: dict[str, dict] = {}  # read by conftest's summary at the end of the run
_phones = itertools.count(1)
_sids = itertools.count(1)


@dataclass
class Club:
    cooperative_id: int
    orders: dict[str, int]


@pytest.fixture
def corpus_club(tmp_path_factory):
    """The Nueva Esperanza club on a SQLite database of its own, for every case of one corpus."""
    from bot import create_app
    from bot.config import Settings
    from bot.migrate import upgrade

    folder = tmp_path_factory.mktemp("corpus")
    url = f"sqlite:///{folder / 'corpus.db'}"
    upgrade(url)
    app = create_app(Settings(instance=str(folder), database_url=url, secret_key="corpus",
                              messaging_backend="console", spool_dir=str(folder / "spool")))
    engine = app.extensions["puntada"].engine
    with unit_of_work(engine) as session:
        coop = admin.add_cooperative(session=session, name="Nueva Esperanza", number=COOP_NUMBER)
        coop.plausible_max = PLAUSIBLE_MAX
        admin.add_member(session=session, cooperative=coop, phone="+59171999999", name="Juana Condori",
                         role=Role.COORDINATOR)
        orders = {}
        for code, (item, buyer, quantity) in ORDERS.items():
            admin.add_buyer(session=session, name=buyer, contacts=(), language="es", region="BO")
            order = admin.add_order(session=session, cooperative=coop, buyer_name=buyer, code=code, item=item,
                                    quantity=quantity, due="2026-12-23")
            orders[code] = order.id
        club = Club(coop.id, orders)
    yield engine, club
    engine.dispose()


def new_member(engine, club: Club, key: str) -> tuple[int, str]:
    """A fresh member of the club, on the orders of `key` (each case is hers alone)."""
    phone = f"+5917{next(_phones):07d}"
    with unit_of_work(engine) as session:
        coop = session.get(admin.Cooperative, club.cooperative_id)
        member = admin.add_member(session=session, cooperative=coop, phone=phone, name=NAMES[key],
                                  language="en" if key == "fany" else "es")
        for code in MEMBERS[key]:
            session.add(Assignment(order_id=club.orders[code], member_id=member.id))
        return member.id, phone


def _gap(text: str) -> timedelta:
    number, unit = re.fullmatch(r"(\d+)([smh])", text).groups()
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours"}[unit]: int(number)})


def tell(engine, phone: str, say: list, at: datetime = MOMENT) -> list[tuple[str, str]]:
    """Send her messages as Twilio would, the first at `at`; the bot's replies and the MessageSids."""
    told = []
    for n, said in enumerate(say):
        said = {"text": said} if isinstance(said, str) else said
        if n:
            at += _gap(said.get("after", "2m"))
        media = [Media(f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Messages/MM{n}/Media/ME{n}",
                       said["media"])] if "media" in said else []
        location = (-16.5, -68.15, "El Alto") if said.get("location") else None
        sid = f"SMcorpus{next(_sids):026d}"
        reply = receive(engine, Inbound(sid, phone, COOP_NUMBER, said.get("text", ""), at, media=media,
                                        location=location))
        told.append((reply, sid))
    return told


def _last_moment(say: list) -> datetime:
    return MOMENT + sum((_gap(s.get("after", "2m")) for s in say[1:] if isinstance(s, dict)), timedelta()) \
        + timedelta(minutes=2) * sum(1 for s in say[1:] if isinstance(s, str))


def recorded(engine, member_id: int) -> Counter:
    """Her accepted reports as the corpus writes them: 'A 20', 'A 20 ayer' …"""
    with Session(engine) as session:
        rows = session.execute(select(Order.code, Report.pieces, Report.local_date).join(Order).where(
            Report.member_id == member_id, Report.status == ReportStatus.ACCEPTED)).all()
    found = Counter()
    for code, pieces, day in rows:
        found[(code, _day_label(day))] += pieces
    return found


def expected(text: str) -> Counter:
    found = Counter()
    if text in ("ask", "none"):
        return found
    for part in text.split(","):
        code, pieces, *day = part.split()
        found[(code, f" {day[0]}" if day else "")] += int(pieces)
    return found


def reached_coordinator(engine, sids: list[str]) -> bool:
    with Session(engine) as session:
        rows = session.scalars(select(InboundMessage).where(InboundMessage.message_sid.in_(sids))).all()
    return any(row.for_coordinator or not row.understood for row in rows)


def judge(engine, case: dict, member_id: int, told: list) -> str:
    """right, wrong, asked (where a person would have been sure), missed, or missed the coordinator."""
    got, want = recorded(engine, member_id), expected(case["expect"])
    if got and got != want:
        return "wrong"
    if case.get("coordinator") and not reached_coordinator(engine, [sid for _, sid in told]):
        return "missed the coordinator"
    if case["expect"] == "ask":
        return "right" if not got and asked(told[-1][0]) else "did not ask"
    if got == want:
        return "right"
    return "asked" if asked(told[-1][0]) else "missed"


def asked(reply: str) -> bool:
    return "?" in reply or "Responde" in reply or "Reply" in reply


def held(engine, member_id: int) -> Counter:
    """Her reports waiting for her "si" (over the club's plausible limit), as the corpus writes them."""
    with Session(engine) as session:
        rows = session.execute(select(Order.code, Report.pieces, Report.local_date).join(Order).where(
            Report.member_id == member_id, Report.status == ReportStatus.HELD)).all()
    return Counter({(code, _day_label(day)): pieces for code, pieces, day in rows})


def _day_label(day) -> str:
    return {MOMENT.date(): "", MOMENT.date() - timedelta(1): " ayer",
            MOMENT.date() - timedelta(2): " anteayer"}.get(day, f" {day}")


def summary(scores: dict) -> list[str]:
    """The lines `make test` ends with: each corpus's score, its goals, and every miss."""
    lines = []
    for corpus in CORPORA:
        lines += _corpus_lines(scores.get(corpus))
    return lines + _numbers_lines(scores.get("numbers"))


def _corpus_lines(members: dict | None) -> list[str]:
    if not members:
        return []
    total, outcomes = members["total"], members["outcomes"]
    right, asked_sure = outcomes.get("right", 0), outcomes.get("asked", 0)
    lines = ["", f"Understanding: tests/corpus/{members['file']}, {total} messages as members type them, "
             "through the whole bot",
             f"  recorded or asked as a careful coordinator would: {right}/{total} ({right / total:.1%}, "
             f"goal >= {GOALS['right']:.0%}); of them, large counts she confirmed with SI (over the "
             f"club's limit of {PLAUSIBLE_MAX}): {members['confirmed']}",
             f"  recorded wrong: {outcomes.get('wrong', 0)} (goal 0)",
             f"  asked where a person would have been sure: {asked_sure} ({asked_sure / total:.1%}, "
             f"goal <= {GOALS['asked']:.0%})"]
    lines += [f"  {outcome}: {count}" for outcome, count in sorted(outcomes.items())
              if outcome not in ("right", "wrong", "asked")]
    for outcome, case, reply, got in members["misses"]:
        said = " | ".join(s if isinstance(s, str) else s.get("text", f"<{s.get('media', 'location')}>")
                          for s in case["say"])
        lines.append(f"  - {outcome}: {case['member']} said {said!r}, a person reads {case['expect']!r}, "
                     f"recorded {_written(got)!r}; the bot said {reply!r}")
    return lines


def _numbers_lines(numbers: dict | None) -> list[str]:
    if not numbers:
        return []
    outcomes = numbers["outcomes"]
    lines = ["", f"Number phrases of text2num's and num2words' Spanish tests ({numbers['total']}), each said "
             "by a member: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
             + f" (of the right, {numbers['confirmed']} over the club's limit, confirmed with SI)"]
    for outcome, suite, text, value, got in numbers["misses"]:
        lines.append(f"  - {outcome}: {suite} {text!r} is {value}, recorded {_written(got)!r}")
    return lines


def _written(got: dict) -> str:
    return ", ".join(f"{code} {pieces}{day}" for (code, day), pieces in got.items()) or "nothing"


def _cases(name: str) -> list[dict]:
    with (CORPUS / name).open("rb") as source:
        return tomllib.load(source)["case"]


# members.toml was written first and the bot was built against it; members_holdout.toml and
# members_blind2.toml were written blind afterwards, by writers who had not seen the bot (their
# first scores, before anything was changed for them, are in the closing note of issue 12).
CORPORA = {"members": ("members.toml", 400), "held-out": ("members_holdout.toml", 200),
           "blind": ("members_blind2.toml", 200)}


@pytest.mark.parametrize("corpus", list(CORPORA))
def test_the_members_corpus(corpus_club, corpus):
    engine, club = corpus_club
    name, least = CORPORA[corpus]
    cases = _cases(name)
    assert len(cases) >= least
    outcomes, misses, confirmed = Counter(), [], 0
    for case in cases:
        member_id, phone = new_member(engine, club, case["member"])
        told = tell(engine, phone, case["say"])
        want = expected(case["expect"])
        checked = False
        if want and not recorded(engine, member_id) and held(engine, member_id) == want:
            # The bot asked with the right reading ("¿seguro que son 2.000?", "¿Anoto 18 en A?"):
            # she answers si, as a member would. Over the club's limit that is the product's rule;
            # below it the bot asked where the corpus's writer was sure, and it counts as asked.
            large = any(pieces > PLAUSIBLE_MAX for pieces in want.values())
            told += tell(engine, phone, ["si"], at=_last_moment(case["say"]) + timedelta(minutes=1))
            confirmed += large
            checked = not large
        outcome = judge(engine, case, member_id, told)
        if checked and outcome == "right":
            outcome = "asked"
        outcomes[outcome] += 1
        if outcome != "right":
            misses.append((outcome, case, told[-1][0], dict(recorded(engine, member_id))))
    total = len(cases)
    SCORES[corpus] = {"total": total, "outcomes": dict(outcomes), "misses": misses, "confirmed": confirmed,
                      "file": name}
    right, wrong, over = outcomes["right"] / total, outcomes["wrong"], outcomes["asked"] / total
    assert (right >= GOALS["right"], wrong <= GOALS["wrong"], over <= GOALS["asked"]) == (True, True, True), (
        f"right {right:.1%}, wrong {wrong}, asked where sure {over:.1%}: see the summary at the end")


def _numbers() -> list[tuple[str, str, int]]:
    with (CORPUS / "numbers_es.toml").open("rb") as source:
        data = tomllib.load(source)
    return [(suite, entry["text"], entry["value"]) for suite in ("text2num", "num2words")
            for entry in data[suite] if 1 <= entry["value"] <= 99_999]


def test_the_number_phrases_of_text2num_and_num2words(corpus_club):
    """Each phrase said by a member on one order: recorded as that number (confirmed with SI when
    over the club's limit), or asked, or nothing recorded (money, hours); never another number."""
    engine, club = corpus_club
    outcomes, misses, confirmed = Counter(), [], 0
    for suite, text, value in _numbers():
        member_id, phone = new_member(engine, club, "ana")
        told = tell(engine, phone, [text])
        if not recorded(engine, member_id) and held(engine, member_id) == Counter({("A", ""): value}):
            told += tell(engine, phone, ["si"], at=MOMENT + timedelta(minutes=1))
            confirmed += 1
        got = recorded(engine, member_id)
        if got == Counter({("A", ""): value}):
            outcomes["right"] += 1
        elif not got:
            outcome = "asked" if asked(told[-1][0]) else "recorded nothing"
            outcomes[outcome] += 1
            misses.append((outcome, suite, text, value, {}))
        else:
            outcomes["wrong"] += 1
            misses.append(("wrong", suite, text, value, dict(got)))
    SCORES["numbers"] = {"total": sum(outcomes.values()), "outcomes": dict(outcomes), "misses": misses,
                         "confirmed": confirmed}
    assert [m for m in misses if m[0] == "wrong"] == []
