"""Voice notes, photos, videos, documents, stickers and locations: kept for the coordinator."""

from __future__ import annotations

from bot.parsing import Intent
from handlers import conversation
from handlers.context import Context, Reply


def kind_of(content_types: tuple[str, ...], location: bool) -> str:
    """What she sent, as the reply names it: audio, photo, sticker, video, document or location."""
    if not content_types:
        return "location" if location else "document"
    first = content_types[0].lower()
    if first.startswith("audio/"):
        return "audio"
    if first == "image/webp":
        return "sticker"  # WhatsApp sends its stickers as WebP images
    if first.startswith("image/"):
        return "photo"
    if first.startswith("video/"):
        return "video"
    return "document"


def received(context: Context, intent: Intent) -> Reply:
    """Tell her plainly that the bot cannot read it, and that the coordinator will see it."""
    kind = kind_of(context.media, context.location)
    question = conversation.pending(context)
    if question is not None:  # still waiting for "which order?": ask again, in one SMS
        choices = [o for o in context.orders if o.code in question["choices"]] or context.orders
        return Reply("media_pending", {"kind": kind, "pieces": sum(i["pieces"] for i in question["items"]),
                                       "orders": [{"code": o.code, "item": o.short} for o in choices]},
                     understood=False, intent="media", note=True)
    return Reply("media", {"kind": kind, "coordinator": context.coordinator}, understood=False,
                 intent="media", note=True)
