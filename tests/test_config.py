"""Settings from the environment: strict, and never open to unsigned webhooks by mistake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_the_embedded_console_setup():
    settings = Settings.from_env({})
    assert (settings.messaging_backend, settings.default_region, settings.port) == ("console", "BO", 8000)
    assert settings.database_url.endswith("/instance/puntada.db")


def test_twilio_is_the_backend_when_both_credentials_are_set():
    env = {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "secret"}
    assert Settings.from_env(env).messaging_backend == "twilio"


NO_TOKEN = "MESSAGING_BACKEND=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"


@pytest.mark.parametrize("env, reason", [
    ({"MESSAGING_BACKEND": "twilio"}, NO_TOKEN),
    ({"MESSAGING_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": "AC1"}, NO_TOKEN),
    ({"MESSAGING_BACKEND": "pigeon"}, "MESSAGING_BACKEND must be one of twilio, console"),
    ({"PORT": "0"}, "PORT must be a whole number from 1 to 65535"),
    ({"TWILIO_MAX_MPS": "fast"}, "TWILIO_MAX_MPS must be a whole number from 1 to 1000000"),
    ({"DEFAULT_REGION": "XX"}, "DEFAULT_REGION 'XX' is not a country code such as BO"),
    ({"PUBLIC_BASE_URL": "bot.example.org"}, "PUBLIC_BASE_URL must start with http:// or https://"),
])
def test_bad_settings_are_refused_with_a_reason(env, reason):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert str(refused.value) == reason


def test_serve_refuses_to_start_with_twilio_and_no_token(tmp_path):
    env = {**os.environ, "MESSAGING_BACKEND": "twilio", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    env.pop("TWILIO_AUTH_TOKEN", None)
    done = subprocess.run([str(Path(sys.executable).parent / "puntada"), "serve"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == "puntada: MESSAGING_BACKEND=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN\n"


def test_digits_from_other_scripts_are_not_numbers():
    with pytest.raises(ConfigError):
        Settings.from_env({"PORT": "²"})
