"""A real IMAP server for the e-mail channel's tests: Debian's dovecot as a private process.

Its own configuration in a temporary folder: listening on 127.0.0.1 on a free port, no TLS,
users in a passwd-file, maildirs in the folder. Messages are APPENDed over IMAP as a mail
client would; the server is stopped by its own PID. Without dovecot the tests skip, unless
the run requires the production stack (REQUIRE_POSTGRES=1, as CI sets): then they fail.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from imap_tools import MailBoxUnencrypted

from tests.processes import free_port, wait_for

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "imap-secret"
USERS = tuple(f"sales{n}@acme.test" for n in range(1, 101))

CONFIG = """\
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
mail_location = maildir:{folder}/mail/%u
mail_uid = {mail_user}
mail_gid = {mail_group}
first_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={folder}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""


def require_dovecot() -> None:
    """Skip (or, where the run requires the full stack, fail) without dovecot."""
    if Path(DOVECOT).exists():
        return
    reason = "needs dovecot (apt-get install dovecot-imapd)"
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)


@dataclass
class Dovecot:
    """One private dovecot; `users` are created on demand, each with its own maildir."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="voronka-imap-")))
    port: int = 0
    process: subprocess.Popen | None = None
    handed_out: int = 0

    def start(self) -> None:
        self.port = free_port()
        root = os.geteuid() == 0
        # As root, dovecot runs its login and internal processes as its own users and the
        # mail as the dovecot user; as anyone else, everything runs as that user.
        me = pwd.getpwuid(os.geteuid()).pw_name
        mail_user = "dovecot" if root else me
        self.folder.chmod(0o755)
        for name in ("mail", "home"):
            (self.folder / name).mkdir()
            if root:
                shutil.chown(self.folder / name, mail_user, mail_user)
        # The users are written before the start (passwd-file is re-read only when its
        # modification second changes): each test takes a fresh one (`new_user`).
        (self.folder / "users").write_text(
            "".join(f"{name}:{{PLAIN}}{PASSWORD}\n" for name in ("probe", *USERS))
        )
        (self.folder / "dovecot.conf").write_text(
            CONFIG.format(
                folder=self.folder,
                port=self.port,
                login_user="dovenull" if root else me,
                internal_user="dovecot" if root else me,
                internal_group="dovecot" if root else me,
                mail_user=mail_user,
                mail_group=mail_user,
            )
        )
        self.process = subprocess.Popen(  # noqa: S603 - a fixed command line
            [DOVECOT, "-F", "-c", str(self.folder / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, "dovecot to answer", seconds=20)

    def _answers(self) -> bool:
        try:
            with self.client("probe"):
                return True
        except Exception:
            assert self.process is not None
            assert self.process.poll() is None, self.log()
            return False

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def new_user(self) -> str:
        """A mailbox nobody used yet."""
        self.handed_out += 1
        return USERS[self.handed_out - 1]

    def client(self, user: str) -> MailBoxUnencrypted:
        """A logged-in client for setting up the mailbox (the test's mail client)."""
        return MailBoxUnencrypted("127.0.0.1", self.port, timeout=10).login(
            user, PASSWORD, initial_folder=None
        )

    def append(self, user: str, *messages: bytes, folder: str = "INBOX") -> None:
        with self.client(user) as box:
            for message in messages:
                box.append(message, folder)

    def recreate(self, user: str, folder: str, *messages: bytes) -> None:
        """Delete and create `folder` again with `messages` (a new UIDVALIDITY)."""
        with self.client(user) as box:
            box.folder.delete(folder)
            box.folder.create(folder)
            for message in messages:
                box.append(message, folder)

    def uidvalidity(self, user: str, folder: str) -> int:
        with self.client(user) as box:
            return int(box.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        shutil.rmtree(self.folder, ignore_errors=True)
