"""Installed like any package, Puntada runs from any folder: its templates, word lists, catalogs,
migrations and static files travel inside it, and what one installation keeps (database,
secret key, spool) goes to the instance folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tomllib
from fnmatch import fnmatch

import requests

from tests import ROOT


def test_an_installed_puntada_runs_from_another_folder(tmp_path):
    python = sys.executable
    wheels, site, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = [python, "-m", "pip", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)],
                   check=True, capture_output=True, cwd=tmp_path)
    wheel = next(wheels.glob("puntada-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, cwd=tmp_path)
    # The installed package first on the path, this checkout's packages (flask, twilio …) after it.
    unset = ("DATABASE_URL", "PUNTADA_INSTANCE", "SECRET_KEY")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["PYTHONPATH"] = str(site)
    puntada = [python, "-c", "from bot.cli import main; main()"]

    def run(*args: str) -> str:
        done = subprocess.run([*puntada, *args], cwd=elsewhere, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    where = subprocess.run([python, "-c", "import bot; print(bot.__file__)"], cwd=elsewhere, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(site))
    assert run("db", "upgrade") == "database at head\n"
    assert run("demo", "--at", "2026-11-27T18:30").startswith("loaded Club de Madres Bartolina Sisa")
    said = run("say", "--from", "71500008", "--at", "2026-11-27T18:31", "hice 20")
    assert said.splitlines()[0] == (
        "Sabina, anoté 20 en el pedido A. Tu mes: 398. Pedido A: 4.172/15.000 (27 %)")
    assert {"puntada.db", "secret_key"} <= {p.name for p in (elsewhere / "instance").iterdir()}

    port = _free_port()
    server = subprocess.Popen([*puntada, "serve", "--no-scheduler"], cwd=elsewhere,
                              env={**env, "PORT": str(port)}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(base)
        assert requests.get(f"{base}/healthz", timeout=5).json()["status"] == "ok"
        login = requests.get(f"{base}/login", timeout=5)
        assert login.status_code == 200 and "Enviar código" in login.text
        assert requests.get(f"{base}/assets/puntada.css", timeout=5).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=15)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/healthz", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError("puntada serve did not answer within 30 s")


def test_the_package_lists_every_file_it_reads():
    """Every file under templates/ and migrations/ is in the package data (pyproject.toml)."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for package, folder in (("bot.templates", "templates"), ("bot.migrations", "migrations")):
        root = ROOT / folder
        modules = {p for p in root.glob("*.py")}  # the package's own code, installed as modules
        files = [str(p.relative_to(root)) for p in root.rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts and p not in modules]
        unlisted = [name for name in files if not any(
            fnmatch(name, pattern) or fnmatch(name, pattern.replace("**/", "")) for pattern in data[package])]
        assert unlisted == [], package
