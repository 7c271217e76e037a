"""Adding a command: one entry in the table, its words in each language's file, one template per language."""

from __future__ import annotations

import copy

from bot import parsing, render, words
from bot.models import InboundMessage
from bot.parsing import Intent
from handlers import COMMANDS, Command, Context, Reply, members
from tests import factories as f
from tests.factories import ELENA, EXPORTER_CONTACT, ROSA


def thread(context: Context, intent: Intent) -> Reply:
    """She asks for thread: the coordinator will see the message."""
    return Reply("thread_asked", {"what": intent.text, "name": "Juana"})


def test_a_new_command_is_one_entry_its_words_and_a_template_per_language(
    engine, club, now, tmp_path, monkeypatch
):
    import handlers

    # 1. The entry: its name, who may use it and its answer, and how its words are read.
    monkeypatch.setattr(handlers, "COMMANDS", (*COMMANDS, Command("thread", members(thread),
                                                                   reads=parsing.read_text)))
    # 2. Its words, under [commands] in each language's file (added here as the files would).
    added = copy.deepcopy(words.load())
    for language, phrase in (("es", "necesito hilo"), ("es", "hilo"), ("en", "need thread")):
        spoken = next(lang for lang in added.languages if lang.code == language)
        added.commands.setdefault("thread", []).append(added.phrase(spoken, phrase))
    monkeypatch.setattr(parsing, "default_parser", lambda: parsing.Parser(added, handlers.grammar()))
    # 3. Its template in each language.
    for language, text in (("es", "Listo, {{ name }} sabra que pides hilo: {{ what }}"),
                           ("en", "OK, {{ name }} will know you need thread: {{ what }}")):
        (tmp_path / "sms" / language).mkdir(parents=True)
        (tmp_path / "sms" / language / "thread_asked.txt").write_text(text + "\n")
    monkeypatch.setattr(render, "EXTRA_ROOTS", (tmp_path,))

    said = f.text(engine, ROSA, "hola, necesito hilo rojo", at=now)
    assert said == "Listo, Juana sabra que pides hilo: rojo"
    assert f.text(engine, ELENA, "need thread blue", at=now) == "OK, Juana will know you need thread: blue"
    assert f.count(engine, InboundMessage, InboundMessage.intent == "thread") == 2
    # Members only: a buyer's contact gets her own help, as for any command not hers.
    assert f.text(engine, EXPORTER_CONTACT, "hilo rojo", at=now) == (
        "Manda ESTADO para ver el avance de tus pedidos. For English send: english")
