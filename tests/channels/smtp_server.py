"""A real SMTP server for the e-mail replies' tests: aiosmtpd in its own process.

`SmtpServer().start()` runs this file as a script: an SMTP server on 127.0.0.1 on a free
port (no TLS; AUTH PLAIN/LOGIN over plain text, required when a password is given: any
login with that password), which
writes every message it accepts to `<folder>/mail/NNNN.eml` (the raw data as received)
with `NNNN.json` beside it (envelope sender, recipients, the login used). Faults are read
from `<folder>/faults.json` at each command, so a test changes them while it runs:

* `{"refuse": {"nobody@example.com": "550 5.1.1 User unknown"}}` — RCPT TO that address
  always gets that answer;
* `{"once": [{"stage": "rcpt", "reply": "451 4.7.1 Try again later"}]}` — the next
  command of that stage (`rcpt` or `data`: the answer after the message's data) gets the
  answer, once per entry;
* `{"hang": 5}` — after the message's data, say nothing for that many seconds, then
  accept it if the client is still there (one that gave up cannot know either way).

It is stopped by its own PID. Without aiosmtpd the tests skip, unless the run requires the
production stack (REQUIRE_POSTGRES=1, as CI sets): then they fail.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]


# --- The server process ---------------------------------------------------------------------


class _Handler:
    """aiosmtpd's handler: faults first, then every accepted message to the folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def _faults(self) -> dict[str, Any]:
        path = self.folder / "faults.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    def _take_once(self, stage: str) -> str:
        """The first one-time fault of `stage`, removed from the file ("" when none)."""
        faults = self._faults()
        once = faults.get("once") or []
        for index, fault in enumerate(once):
            if fault.get("stage") == stage:
                del once[index]
                faults["once"] = once
                (self.folder / "faults.json").write_text(json.dumps(faults))
                return str(fault.get("reply") or "451 4.3.0 Try again later")
        return ""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        refused = (self._faults().get("refuse") or {}).get(address.lower())
        if refused:
            return refused
        once = self._take_once("rcpt")
        if once:
            return once
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        once = self._take_once("data")
        if once:
            return once
        hang = float(self._faults().get("hang") or 0)
        if hang:
            await asyncio.sleep(min(hang, 30))
        self.count += 1
        name = f"{self.count:04d}"
        box = self.folder / "mail"
        (box / f"{name}.eml.part").write_bytes(envelope.original_content or envelope.content)
        login = session.auth_data.login if session.authenticated and session.auth_data else b""
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": login.decode() if isinstance(login, bytes) else str(login or ""),
        }
        (box / f"{name}.json").write_text(json.dumps(meta))
        (box / f"{name}.eml.part").rename(box / f"{name}.eml")
        return "250 2.0.0 Ok: queued"


def _authenticator(password: str):
    """Any login with `password` (each test's mailbox logs in with its own address)."""
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return check


def serve(port: int, folder: Path, password: str) -> None:
    """Run until SIGTERM."""
    from aiosmtpd.controller import Controller

    # Without a password no AUTH is offered at all (aiosmtpd offers it only over TLS then).
    options: dict[str, Any] = {}
    if password:
        options.update(
            auth_require_tls=False, auth_required=True, authenticator=_authenticator(password)
        )
    controller = Controller(
        _Handler(folder), hostname="127.0.0.1", port=port, ready_timeout=20, **options
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_args: stop.set())
    signal.signal(signal.SIGINT, lambda *_args: stop.set())
    controller.start()
    (folder / "ready").write_text(str(os.getpid()))
    stop.wait(3600)  # bounded: a server left behind by a killed test run ends by itself
    controller.stop()


# --- The tests' side ----------------------------------------------------------------------------


def require_aiosmtpd() -> None:
    """Skip (or, where the run requires the full stack, fail) without aiosmtpd."""
    import pytest

    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        reason = "needs aiosmtpd (pip install '.[dev]')"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)


@dataclass
class Received:
    """One message the server accepted: its envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    login: str
    raw: bytes
    message: EmailMessage


@dataclass
class SmtpServer:
    """One private SMTP server; `password` empty: no authentication."""

    password: str = ""
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="voronka-smtp-")))
    port: int = 0
    process: subprocess.Popen | None = None

    def start(self) -> SmtpServer:
        from tests.processes import free_port, wait_for

        self.port = free_port()
        (self.folder / "mail").mkdir(exist_ok=True)
        self.process = subprocess.Popen(  # noqa: S603 - this file with fixed arguments
            [
                sys.executable,
                str(HERE),
                "--port",
                str(self.port),
                "--folder",
                str(self.folder),
                "--password",
                self.password,
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "server.log", "wb"),  # noqa: SIM115 - the child keeps it
        )
        wait_for(self._ready, "the SMTP server to start", seconds=20)
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, self.log()
        return (self.folder / "ready").exists()

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def reset(self) -> None:
        """No messages and no faults (between tests)."""
        for path in (self.folder / "mail").iterdir():
            path.unlink()
        (self.folder / "faults.json").unlink(missing_ok=True)

    def faults(self, **faults: Any) -> None:
        """Set the faults (see the module's docstring)."""
        (self.folder / "faults.json").write_text(json.dumps(faults))

    def received(self) -> list[Received]:
        """The messages accepted so far, in order."""
        found = []
        for path in sorted((self.folder / "mail").glob("*.eml")):
            meta = json.loads(path.with_suffix(".json").read_text())
            raw = path.read_bytes()
            message = email.message_from_bytes(raw, policy=policy.default)
            found.append(Received(raw=raw, message=message, **meta))
        return found

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        shutil.rmtree(self.folder, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--password", default="")
    arguments = parser.parse_args()
    serve(arguments.port, arguments.folder, arguments.password)
