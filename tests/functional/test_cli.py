"""The operator's command line, run as a real process against a real data directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

STRONG = "correct horse battery staple"


def telepractice(data_dir: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TELEPRACTICE_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "telepractice", "--data-dir", str(data_dir), *args],
        input=stdin, capture_output=True, text=True, env=environment, timeout=120,
    )


def test_staff_are_added_listed_and_disabled_with_the_password_never_on_the_command_line(tmp_path: Path) -> None:
    added = telepractice(tmp_path, "staff", "add", "m.silva", "--role", "worker", "--name", "Maria", stdin=STRONG + "\n")
    assert added.returncode == 0, added.stderr
    assert "added worker m.silva" in added.stdout
    password_file = tmp_path / "pw"
    password_file.write_text(STRONG)
    assert telepractice(tmp_path, "staff", "add", "j.sup", "--role", "supervisor",
                        "--password-file", str(password_file)).returncode == 0
    assert telepractice(tmp_path, "staff", "disable", "m.silva").returncode == 0
    listing = telepractice(tmp_path, "staff", "list").stdout
    assert "m.silva" in listing and "disabled" in listing and "j.sup" in listing
    assert STRONG not in added.stdout + added.stderr


def test_a_short_password_is_refused_in_one_line(tmp_path: Path) -> None:
    result = telepractice(tmp_path, "staff", "add", "m.silva", "--role", "worker", stdin="short\n")
    assert result.returncode == 2
    assert result.stderr.startswith("telepractice: ") and len(result.stderr.strip().splitlines()) == 1


def test_a_wrong_setting_stops_the_command_naming_it(tmp_path: Path) -> None:
    result = telepractice(tmp_path, "db", "upgrade", env={"TELEPRACTICE_PORT": "eighty"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "telepractice: TELEPRACTICE_PORT: must be a whole number from 1 to 65535, got 'eighty'"
    ]


def test_demo_prints_logins_links_and_urls_then_erase_and_verify(tmp_path: Path) -> None:
    demo = telepractice(tmp_path, "demo", "--no-serve")
    assert demo.returncode == 0, demo.stderr
    for expected in ("demo.worker", "demo.supervisor", "demo.admin", "Ana Demo", "Paulo Demo", "Bia Demo",
                     "/join#invite=", "https://localhost:8443/healthz"):
        assert expected in demo.stdout

    rotated = telepractice(tmp_path, "keys", "rotate")
    assert rotated.returncode == 0 and "1 case keys re-wrapped" in rotated.stdout
    assert telepractice(tmp_path, "keys", "rotate-signing").returncode == 0

    erased = telepractice(tmp_path, "case", "erase", "DEMO-0001", "--yes")
    assert erased.returncode == 0, erased.stderr
    assert "DEMO-0001 erased" in erased.stdout
    unknown = telepractice(tmp_path, "case", "erase", "NOPE-1", "--yes")
    assert unknown.returncode == 2 and "no case with reference NOPE-1" in unknown.stderr

    verified = telepractice(tmp_path, "audit", "verify")
    assert verified.returncode == 0 and "audit log intact" in verified.stdout

    with sqlite3.connect(tmp_path / "telepractice.db") as database:
        database.execute("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2")
    broken = telepractice(tmp_path, "audit", "verify")
    assert broken.returncode == 1
    assert "BROKEN at entry 2" in broken.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_over_https_with_its_development_certificate(tmp_path: Path) -> None:
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TELEPRACTICE_")}
    environment["TELEPRACTICE_PORT"] = str(port)
    server = subprocess.Popen(
        [sys.executable, "-m", "telepractice", "--data-dir", str(tmp_path), "serve"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment,
    )
    try:
        context = None
        body = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and body is None:
            cert = tmp_path / "tls"
            certs = list(cert.glob("*cert*.pem")) if cert.exists() else []
            if certs:
                context = ssl.create_default_context(cafile=str(certs[0]))
                try:
                    with urllib.request.urlopen(f"https://localhost:{port}/healthz", context=context, timeout=2) as reply:
                        body = json.loads(reply.read())
                        headers = reply.headers
                except OSError:
                    time.sleep(0.2)
            else:
                time.sleep(0.2)
        assert body is not None, "server did not answer within 60 s"
        assert body["status"] == "ok" and body["database"] is True
        assert headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)
    assert server.returncode in (0, -signal.SIGINT, 130), output
    assert f"https://localhost:{port}/" in output


@pytest.mark.parametrize("command", [["staff", "add", "x", "--role", "worker", "--password", "p"]])
def test_the_password_cannot_be_given_as_an_argument(tmp_path: Path, command: list[str]) -> None:
    result = telepractice(tmp_path, *command)
    assert result.returncode == 2 and "unrecognized arguments: --password" in result.stderr
