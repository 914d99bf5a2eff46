"""A throwaway Dovecot (Debian's packages) for the email tests: IMAP and LMTP on free loopback
ports, users and passwords from a static file, Maildirs, state and log under a temp directory.

Run as root (CI containers) the mail is owned by the ``dovecot`` system user, so the directory
lives in its own traversable temp directory (pytest's are 0700 root); run as anyone else,
Dovecot runs entirely as that user. Readiness is a socket that accepts, polled.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u/Maildir
first_valid_uid = 0
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {login_user}
lmtp_save_to_detail_mailbox = no
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/mail/%u allow_all_users=yes
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, timeout: float = 15.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll until something accepts on ``port`` (or fail with what the process said)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)  # polling interval, not a stand-in for synchronisation
    raise TimeoutError(f"nothing accepted connections on port {port} within {timeout} s")


@dataclass
class Dovecot:
    root: Path
    imap_port: int
    lmtp_port: int
    users: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, users: dict[str, str]) -> Dovecot:
        root = Path(tempfile.mkdtemp(prefix="closedset-dovecot-"))
        # Dovecot's unprivileged processes must reach the users file and the Maildirs.
        root.chmod(0o711)
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not Path(binary).exists():
            raise RuntimeError("Dovecot is not installed; run .ci/setup (dovecot-imapd, -lmtpd).")
        server = cls(root, free_port(), free_port(), users)
        for sub in ("run", "state", "mail"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "users").write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in users.items()))
        (root / "users").chmod(0o644)  # throwaway test passwords
        if os.geteuid() == 0:
            user, login_user = "dovecot", "dovenull"
            entry = pwd.getpwnam(user)
            os.chown(root / "mail", entry.pw_uid, entry.pw_gid)
        else:
            user = login_user = pwd.getpwuid(os.geteuid()).pw_name
        group = user if os.geteuid() == 0 else _group_name()
        conf = root / "dovecot.conf"
        conf.write_text(
            _CONF.format(
                root=root,
                user=user,
                group=group,
                login_user=login_user,
                imap_port=server.imap_port,
                lmtp_port=server.lmtp_port,
            )
        )
        server.process = subprocess.Popen(
            [binary, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_for_port(server.imap_port, process=server.process)
            wait_for_port(server.lmtp_port, process=server.process)
        except Exception as exc:
            server.stop()
            raise RuntimeError(f"Dovecot did not start: {exc}; log: {server.log()}") from exc
        return server

    def clear(self) -> None:
        """Empty every mailbox (the server is shared by the session's tests)."""
        for home in (self.root / "mail").iterdir():
            shutil.rmtree(home, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else "(no log)"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        shutil.rmtree(self.root, ignore_errors=True)


def _group_name() -> str:
    import grp

    return grp.getgrgid(os.getegid()).gr_name
