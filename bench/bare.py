"""The yardstick: a bare Flask endpoint answering a constant TwiML reply, served by gunicorn
with exactly the options `puntada serve` uses (bot.serving.options)."""

from __future__ import annotations

import sys

from flask import Flask, Response

from bot.config import Settings
from bot.serving import serve_app

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Anotado, gracias</Message></Response>'


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/twilio/messages")
    def messages() -> Response:
        return Response(TWIML, mimetype="text/xml")

    return app


if __name__ == "__main__":
    serve_app(create_app, settings=Settings.from_env(), workers=int(sys.argv[1]), threads=int(sys.argv[2]),
              with_scheduler=False)
