"""A real IMAP server for the tests: Debian's dovecot, on a loopback port of its own.

Everything it keeps (configuration, mail, logs, sockets) lives in one temporary folder.
Run as root (as CI does) it serves mail as the ``dovecot`` user; otherwise as the user
running the tests. Users log in with a password, in plain text over loopback only.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def missing() -> bool:
    """True where the IMAP tests should skip: no dovecot, and not under CI (where .ci/run
    installs it, and a test that cannot start it must fail, not skip)."""
    return not Path(DOVECOT).is_file() and not os.environ.get("CI")


class ImapServer:
    """``with ImapServer() as imap:``; ``imap.url(folder)`` is an IMAP_URL for the user
    ``imap.user``."""

    user, password = "abuse-inbox", "imap-secret"

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ntd-dovecot-"))
        self.folder.chmod(0o755)  # the mail user must reach the mail below
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def url(self, folder: str = "INBOX") -> str:
        return f"imap://{self.user}:{self.password}@127.0.0.1:{self.port}/{folder}"

    def start(self) -> ImapServer:
        runs_as = "dovecot" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        account = pwd.getpwnam(runs_as)
        mail = self.folder / "mail"
        for sub in ("run", "state", "mail"):
            (self.folder / sub).mkdir()
        os.chown(mail, account.pw_uid, account.pw_gid)
        (self.folder / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        config = self.folder / "dovecot.conf"
        config.write_text(
            f"""
protocols = imap
listen = 127.0.0.1
base_dir = {self.folder}/run
state_dir = {self.folder}/state
log_path = {self.folder}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {runs_as}
default_login_user = {runs_as}
first_valid_uid = {account.pw_uid}
first_valid_gid = {account.pw_gid}
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.folder}/users
}}
userdb {{
  driver = static
  args = uid={account.pw_uid} gid={account.pw_gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
        )
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot did not start: {self.process.stderr.read()!r}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe:
                    if probe.recv(64).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("dovecot did not answer on its port within 10 s")

    def client(self):
        """An imapclient session, logged in, for the test to look with."""
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(self.user, self.password)
        return client

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        with self.client() as client:
            client.append(folder, raw)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> ImapServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
