"""Buyer contacts: 'estado' shows their own orders at this cooperative, nothing else."""

from __future__ import annotations

from bot.parsing import Intent
from handlers.context import Context, Reply, progress, puzzled, reply, standing


def status(context: Context, intent: Intent) -> Reply:
    """Progress of this buyer's active orders at the cooperative written to."""
    buyer_ids = {contact.buyer_id for contact in context.contacts}
    lines = [{**progress(order), "item": order.item, "due": order.due_date,
              "at_risk": standing(context, order).at_risk}
             for order in context.orders if order.buyer_id in buyer_ids]
    return reply("buyer_status", coop=context.cooperative.name, orders=lines, today=context.today)


def help(context: Context, intent: Intent) -> Reply:
    """What a buyer contact can ask."""
    return reply("help_buyer")


def not_understood(context: Context, intent: Intent) -> Reply:
    """Anything else from a buyer contact: the same help, kept for the coordinator."""
    return puzzled("help_buyer")
