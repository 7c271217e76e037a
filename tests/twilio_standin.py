"""A local HTTP server that stands in for Twilio's Messages API and records what it is sent.

It answers like Twilio: 201 with a message resource, or a scripted error with Twilio's
JSON error body; it can also answer slowly, to make the client time out. It also keeps
media the way Twilio does: a GET of a message's MediaUrl with the account's credentials is
redirected to a short-lived link on another host (Twilio's CDN), which needs none.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from bot.config import Settings

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "standin-token"


@dataclass(frozen=True)
class Answer:
    """What the stand-in says to one request: an HTTP status, Twilio's error code, a delay."""

    status: int = 201
    code: int | None = None
    message: str = ""
    delay: float = 0.0


@dataclass(frozen=True)
class Request:
    path: str
    form: dict[str, str]
    at: float  # time.time() when it arrived
    sid: str | None  # the SID the stand-in gave it, when it answered 201


@dataclass(frozen=True)
class Fetch:
    """A GET the stand-in answered: its path and the Authorization header it came with."""

    path: str
    authorization: str | None


@dataclass
class TwilioStandIn:
    """Records every request; answers each To address from its script, else 201."""

    requests: list[Request] = field(default_factory=list)
    scripts: dict[str, list[Answer]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # MediaUrl path -> (type, bytes)
    fetches: list[Fetch] = field(default_factory=list)

    def keep_media(self, message_sid: str, media_sid: str, content_type: str, content: bytes) -> str:
        """Keep a medium as Twilio would; its MediaUrl (on api.twilio.com, as Twilio posts it)."""
        path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message_sid}/Media/{media_sid}"
        with self.lock:
            self.media[path] = (content_type, content)
        return "https://api.twilio.com" + path

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, to: str, *answers: Answer) -> None:
        """The next answers for messages to `to`, in order; 201 once they run out."""
        with self.lock:
            self.scripts.setdefault(to, []).extend(answers)

    def forms(self) -> list[dict[str, str]]:
        with self.lock:
            return [r.form for r in self.requests]

    def _next_answer(self, to: str) -> Answer:
        with self.lock:
            script = self.scripts.get(to)
            return script.pop(0) if script else Answer()

    def _record(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)

    def start(self) -> TwilioStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                at = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
                answer = standin._next_answer(form.get("To", ""))
                sid = "SM" + uuid.uuid4().hex if answer.status == 201 else None
                standin._record(Request(self.path, form, at, sid))
                time.sleep(answer.delay)
                body = _created(form, sid) if sid else _error(answer)
                try:
                    self._answer(answer.status, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as intended

            def do_GET(self) -> None:  # noqa: N802
                with standin.lock:
                    standin.fetches.append(Fetch(self.path, self.headers.get("Authorization")))
                if self.path.startswith("/cdn/"):  # the CDN: the link itself is the permission
                    kept = standin.media.get(self.path[len("/cdn"):])
                    if kept is None:
                        self._answer(404, {"message": "not found"})
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", kept[0])
                    self.send_header("Content-Length", str(len(kept[1])))
                    self.end_headers()
                    self.wfile.write(kept[1])
                    return
                expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                elif self.path not in standin.media:
                    self._answer(404, {"code": 20404, "message": "not found", "status": 404})
                else:
                    self.send_response(307)
                    self.send_header("Location", f"http://localhost:{self.server.server_address[1]}/cdn{self.path}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _created(form: dict[str, str], sid: str) -> dict:
    return {
        "sid": sid, "account_sid": ACCOUNT_SID, "status": "queued", "direction": "outbound-api",
        "to": form.get("To"), "from": form.get("From"), "body": form.get("Body", ""),
        "messaging_service_sid": form.get("MessagingServiceSid"), "num_segments": "1",
        "date_created": "Thu, 26 Nov 2026 22:00:00 +0000", "api_version": "2010-04-01",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
    }


def _error(answer: Answer) -> dict:
    return {"code": answer.code, "message": answer.message or f"error {answer.code}",
            "more_info": f"https://www.twilio.com/docs/errors/{answer.code}", "status": answer.status}


@contextmanager
def running() -> Iterator[TwilioStandIn]:
    """A stand-in listening on a free port of 127.0.0.1 for the length of the block."""
    standin = TwilioStandIn().start()
    try:
        yield standin
    finally:
        standin.stop()


def settings_for(settings: Settings, base_url: str, **changes) -> Settings:
    """`settings` with the Twilio backend pointed at `base_url`."""
    return replace(settings, messaging_backend="twilio", twilio_account_sid=ACCOUNT_SID,
                   twilio_auth_token=AUTH_TOKEN, twilio_api_base_url=base_url, **changes)
