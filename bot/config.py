"""Settings, read once from the environment with strict parsing."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import phonenumbers
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

BACKENDS = ("twilio", "console")
INSTANCE = "instance"  # PUNTADA_INSTANCE's default: ./instance in the folder Puntada runs from


class ConfigError(ValueError):
    """A setting in the environment cannot be used."""


@dataclass(frozen=True)
class Settings:
    # The folder of what one installation keeps beside its code: the default SQLite database,
    # the generated secret key, the spool.
    instance: str = INSTANCE
    database_url: str = f"sqlite:///{INSTANCE}/puntada.db"
    twilio_account_sid: str = ""
    twilio_auth_token: str = field(default="", repr=False)
    twilio_messaging_service_sid: str = ""
    twilio_api_base_url: str = "https://api.twilio.com"
    public_base_url: str = ""
    messaging_backend: str = "console"
    secret_key: str = field(default="", repr=False)
    default_region: str = "BO"
    twilio_max_mps: int = 10
    database_pool_size: int = 5  # connections each process keeps (PostgreSQL); as many again on a burst
    dispatch_concurrency: int = 12  # senders that dispatch serves at once, one thread each
    host: str = "127.0.0.1"
    port: int = 8000
    spool_dir: str = f"{INSTANCE}/spool"  # inbound messages wait here while the database is down
    trusted_proxies: int = 0  # proxies in front whose X-Forwarded-For gives the client's address

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from the environment, raising ConfigError on a bad value."""
        env = os.environ if env is None else env
        sid = env.get("TWILIO_ACCOUNT_SID", "").strip()
        token = env.get("TWILIO_AUTH_TOKEN", "").strip()
        backend = env.get("MESSAGING_BACKEND", "").strip().lower()
        if not backend:
            backend = "twilio" if sid and token else "console"
        if backend not in BACKENDS:
            raise ConfigError(f"MESSAGING_BACKEND must be one of {', '.join(BACKENDS)}")
        if backend == "twilio" and not (sid and token):
            # Without the token no webhook signature could be checked: refuse to run open.
            raise ConfigError("MESSAGING_BACKEND=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        instance = Path(env.get("PUNTADA_INSTANCE", "").strip() or INSTANCE).absolute()
        return cls(
            instance=str(instance),
            database_url=_database_url(env.get("DATABASE_URL", "").strip()
                                       or f"sqlite:///{instance / 'puntada.db'}"),
            twilio_account_sid=sid,
            twilio_auth_token=token,
            twilio_messaging_service_sid=env.get("TWILIO_MESSAGING_SERVICE_SID", "").strip(),
            twilio_api_base_url=_url(env, "TWILIO_API_BASE_URL", cls.twilio_api_base_url),
            public_base_url=_url(env, "PUBLIC_BASE_URL", ""),
            messaging_backend=backend,
            secret_key=env.get("SECRET_KEY", "").strip(),
            default_region=_region(env.get("DEFAULT_REGION", "BO")),
            twilio_max_mps=_int(env, "TWILIO_MAX_MPS", 10, low=1),
            database_pool_size=_int(env, "DATABASE_POOL_SIZE", 5, low=1, high=100),
            dispatch_concurrency=_int(env, "DISPATCH_CONCURRENCY", 12, low=1, high=64),
            host=env.get("HOST", "").strip() or "127.0.0.1",
            port=_int(env, "PORT", 8000, low=1, high=65535),
            spool_dir=env.get("SPOOL_DIR", "").strip() or str(instance / "spool"),
            trusted_proxies=_int(env, "TRUSTED_PROXIES", 0, low=0, high=10),
        )

    def with_secret_key(self) -> Settings:
        """Return settings whose secret key is set, generating one kept in the instance folder."""
        if self.secret_key:
            return self
        instance = Path(self.instance)
        path = instance / "secret_key"
        if not path.exists():
            instance.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return replace(self, secret_key=path.read_text().strip())


def _database_url(url: str) -> str:
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise ConfigError("DATABASE_URL is not a database URL like sqlite:////srv/puntada.db") from None
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"DATABASE_URL: {backend} is not supported; use sqlite or postgresql+psycopg")
    return url


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip().rstrip("/")
    if not value:
        return default
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must start with http:// or https://")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int = 10**6) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def _region(raw: str) -> str:
    region = raw.strip().upper() or "BO"
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"DEFAULT_REGION {raw!r} is not a country code such as BO")
    return region
