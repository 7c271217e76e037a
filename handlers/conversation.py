"""A conversation, not single messages: what the bot asked a member, and her answer.

When the bot asks which order her count is for, it keeps what she sent (member.pending) and
her answer completes it: "A", "blusas", "de manteles", "lo de Alpaca", "si" (to "¿Anoto 10 en
M?"). A person would connect the two for a few hours, and until she reports something else;
so does the bot. "no", "ninguno" drop the question; "no se", "las dos" get it asked again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot import statements
from bot.parsing import Day, Intent, Item, Kind
from bot.statements import OrderLine
from handlers.context import Context, Reply, first_name, puzzled, reply

WAIT = timedelta(hours=4)  # an answer after this is read as a new message
WHICH_ORDER = "which_order"  # her count is kept; the answer names the order
HOW_MANY = "how_many"  # she named the order ("termine blusas"); the answer is the count


def pending(context: Context) -> dict | None:
    """What the bot asked her and still waits for, if it is recent enough."""
    member = context.member
    question = getattr(member, "pending", None) if member is not None else None
    if not question:
        return None
    if context.now - datetime.fromisoformat(question["at"]) > WAIT:
        return None
    return question


def forget(context: Context) -> None:
    """Nothing is waiting for her answer any more."""
    if context.member is not None and getattr(context.member, "pending", None):
        statements.set_pending(context.connection, context.member.id, None)


def ask_which_order(context: Context, items: Sequence[Item], choices: Sequence[OrderLine],
                    suggested: OrderLine | None = None) -> Reply:
    """Ask which of `choices` her count is for, and remember the count for her answer."""
    statements.set_pending(context.connection, context.member.id, {
        "ask": WHICH_ORDER, "at": context.now.isoformat(), "choices": [o.code for o in choices],
        "suggested": suggested.code if suggested else None,
        "items": [_stored(item) for item in items],
    })
    return which_order_reply(context, [i.pieces for i in items], choices, suggested)


def ask_how_many(context: Context, order: OrderLine, day: Day | None) -> Reply:
    """'¿Cuantas blusas terminaste?': she named the order, the count comes next."""
    statements.set_pending(context.connection, context.member.id, {
        "ask": HOW_MANY, "at": context.now.isoformat(), "order": order.code,
        "ago": day.ago if day else None, "weekday": day.weekday if day else None,
    })
    return Reply("how_many_of", {"item": order.short, "code": order.code}, understood=False, intent="asked")


def which_order_reply(context: Context, pieces: Sequence[int], choices: Sequence[OrderLine],
                      suggested: OrderLine | None = None) -> Reply:
    """'¿Para cual pedido son tus 20? A (blusas) o M (manteles). Responde A o M.'"""
    orders = [{"code": o.code, "item": o.short} for o in choices]
    if suggested is not None:
        return Reply("not_her_order", {"pieces": sum(pieces), "order": {"code": suggested.code,
                                                                      "item": suggested.short},
                                       "orders": [o for o in orders if o["code"] != suggested.code]},
                     understood=False, intent="asked")
    return Reply("which_order", {"pieces": sum(pieces), "orders": orders}, understood=False, intent="asked")


def follow_up(context: Context, intent: Intent) -> Reply | None:
    """Her answer to the question the bot is waiting on, or None when this message is something else."""
    question = pending(context)
    if question is None:
        return None
    if question.get("ask") == HOW_MANY:
        return _how_many(context, intent, question)
    if question.get("ask") != WHICH_ORDER:
        return None
    items = [_item(entry) for entry in question["items"]]
    named = [o for o in context.orders if o.code in intent.orders]
    choices = [o for o in context.orders if o.code in question["choices"]]
    split = [Item(part, day=i.day) for i in intent.items for part in (i.parts or (i.pieces,))]
    if intent.answer == "both" and len(split) == len(choices) > 1 and not any(
            i.code or i.choices for i in intent.items) and sum(i.pieces for i in split) == sum(
            i.pieces for i in items):
        # "de las dos, 5 y 5": one count for each order, in the order the bot named them
        forget(context)
        from handlers.report import record_items

        return record_items(context, list(zip(split, choices, strict=True)), resend_check=False)
    if intent.items and len(named) == 1 and intent.kind == Kind.REPORT:
        # "blusas, y ayer 5 manteles": the answer, and another report
        return _complete(context, items, named[0], more=intent.items)
    coded = [o for o in context.orders if any(i.code == o.code for i in intent.items)]
    if intent.items and intent.kind == Kind.CORRECT and not any(i.choices for i in intent.items) and (
            len(named) == 1 or (len(coded) == 1 and all(i.code for i in intent.items))):
        # "blusas, perdon eran 22": the order she was asked for, and the count put right
        return _complete(context, list(intent.items), named[0] if len(named) == 1 else coded[0])
    if intent.items or intent.kind not in (Kind.UNKNOWN, Kind.CONFIRM, Kind.REJECT, Kind.CORRECT):
        forget(context)  # she reported something else, or asked for something else
        return None
    suggested = question.get("suggested")
    if len(named) == 1 and not named[0].mine and context.assigned() and named[0].code != suggested:
        # "C" from a member who is not on C: ask once more, naming hers
        return ask_which_order(context, items, [named[0], *context.assigned()], named[0])
    if len(named) == 1:
        return _complete(context, items, named[0])
    if suggested and (intent.kind == Kind.CONFIRM or intent.answer == "yes"):
        order = next((o for o in context.orders if o.code == suggested), None)
        if order is not None:
            return _complete(context, items, order)
    if intent.kind == Kind.REJECT or intent.answer == "no" or (intent.correction == "said" and not named):
        forget(context)
        return reply("question_dropped", name=first_name(context.member), pieces=sum(i.pieces for i in items))
    choices = [o for o in context.orders if o.code in question["choices"]] or context.orders
    if not choices:
        forget(context)
        return puzzled("no_orders")
    return which_order_reply(context, [i.pieces for i in items], choices,
                             next((o for o in choices if o.code == suggested), None))


def _how_many(context: Context, intent: Intent, question: dict) -> Reply | None:
    """Her count after "¿Cuantas blusas terminaste?" is for that order (and the day she said)."""
    from handlers.report import report

    forget(context)
    if intent.kind != Kind.REPORT or not intent.items or any(i.code or i.choices for i in intent.items):
        return None
    day = Day(question.get("ago"), question.get("weekday"))
    items = tuple(Item(i.pieces, question["order"], i.day or (day if day != Day() else None), parts=i.parts)
                  for i in intent.items)
    return report(context, Intent(Kind.REPORT, items=items, again=intent.again, answer=intent.answer))


def _complete(context: Context, items: Sequence[Item], order: OrderLine, more: Sequence[Item] = ()) -> Reply:
    from handlers.report import choose, record_items  # recorded as any count is

    forget(context)
    by_code = {o.code: o for o in context.orders}
    chosen = [(item, by_code.get(item.code, order) if item.code else order) for item in items]
    if more:
        others = choose(context, more)
        if isinstance(others, Reply):
            return others
        chosen += others
    return record_items(context, chosen, resend_check=False)


def _stored(item: Item) -> dict:
    day = item.day or Day()
    return {"pieces": item.pieces, "code": item.code, "ago": day.ago, "weekday": day.weekday}


def _item(entry: dict) -> Item:
    day = Day(entry.get("ago"), entry.get("weekday"))
    return Item(entry["pieces"], entry.get("code"), day if day != Day() else None)
