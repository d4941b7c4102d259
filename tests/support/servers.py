"""Real TAXII 2.1 servers on 127.0.0.1 for tests and benchmarks, started as subprocesses and stopped by PID.

- :class:`MedallionServer`: medallion 3.0.0 (memory backend, saved to its data file after each write so a SIGKILL
  and restart keep what it accepted), from the current interpreter.
- :class:`OpenTaxiiServer`: OpenTAXII 0.10.0b1 (SQLite) from its own virtual environment
  (:mod:`tests.support.opentaxii_env`), configured with its own CLI (``opentaxii-add-api-root``,
  ``opentaxii-add-collection``, ``opentaxii-create-account``) and served by Werkzeug's ``run_simple`` on a free port.

Both bind to 127.0.0.1 only. Passwords given to them are test fixtures, never real secrets.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import requests

from .opentaxii_env import REPO_ROOT, ensure_venv

HOST = "127.0.0.1"
MEDIA_TAXII = "application/taxii+json;version=2.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A server subprocess: started, polled until ready, killed by its PID."""

    def __init__(self, argv: list[str], *, env: dict[str, str], cwd: Path, ready_url: str,
                 auth: tuple[str, str] | None, log_path: Path):
        self.argv, self.env, self.cwd = argv, env, cwd
        self.ready_url, self.auth, self.log_path = ready_url, auth, log_path
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout: float = 60.0) -> None:
        log = open(self.log_path, "ab")  # closed when the process is reaped
        self.process = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; log:\n{self.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                answer = requests.get(self.ready_url, auth=self.auth, headers={"Accept": MEDIA_TAXII}, timeout=2)
                if answer.status_code == 200:
                    return
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server not ready after {timeout} s; log:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL by PID (a crash, as far as the server is concerned) and reap it."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM by PID, then SIGKILL if it has not gone after 5 s."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class ServerInfo:
    """What a client needs: the API root URL, collection ids by title, and test accounts."""

    api_root: str
    collections: dict[str, str]
    accounts: dict[str, str] = field(default_factory=dict)


class ManagedServer:
    """start/kill/stop/restart for a server run by one ServerProcess (`self.process`)."""

    process: ServerProcess

    def start(self) -> Self:
        self.process.start()
        return self

    def kill(self) -> None:
        self.process.kill()

    def stop(self) -> None:
        self.process.stop()

    def restart(self) -> None:
        self.process.kill()
        self.process.start()


class MedallionServer(ManagedServer):
    """medallion 3.0.0 on 127.0.0.1 as a subprocess.

    ``collections``: ``{title: {"can_read": bool, "can_write": bool}}``; ids are generated. ``session_timeout`` is
    the lifetime of a ``next`` token in seconds.
    """

    API_ROOT = "api1"

    def __init__(self, workdir: Path, *, users: dict[str, str], collections: dict[str, dict[str, bool]],
                 max_page_size: int = 100, session_timeout: int = 30, check_interval: int = 1,
                 max_content_length: int = 10 * 1024 * 1024):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        base = f"http://{HOST}:{self.port}"
        self.collection_ids = {title: str(uuid.uuid4()) for title in collections}
        data = {
            "/discovery": {"title": "legion test medallion", "description": "loopback test server",
                           "contact": "test@localhost", "default": f"{base}/{self.API_ROOT}/",
                           "api_roots": [f"{base}/{self.API_ROOT}/"]},
            self.API_ROOT: {
                "information": {"title": "api1", "description": "test root",
                                "versions": ["application/taxii+json;version=2.1"],
                                "max_content_length": max_content_length},
                "status": [],
                "collections": [
                    {"id": self.collection_ids[title], "title": title, "description": title,
                     "can_read": rights.get("can_read", True), "can_write": rights.get("can_write", True),
                     "media_types": ["application/stix+json;version=2.1"], "objects": [], "manifest": []}
                    for title, rights in collections.items()]},
        }
        self.data_path = self.workdir / "data.json"
        self.data_path.write_text(json.dumps(data), encoding="utf-8")
        config = {"backend": {"module": "tests.support.medallion_backend",
                              "module_class": "PersistentMemoryBackend", "filename": str(self.data_path),
                              "session_timeout": session_timeout, "check_interval": check_interval},
                  "users": dict(users), "taxii": {"max_page_size": max_page_size}}
        self.config_path = self.workdir / "config.json"
        self.config_path.write_text(json.dumps(config), encoding="utf-8")
        self.users = dict(users)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                                          os.environ.get("PYTHONPATH")]))}
        user, password = next(iter(users.items()))
        self.process = ServerProcess(
            [sys.executable, "-m", "medallion.scripts.run", "--host", HOST, "--port", str(self.port),
             "--log-level", "WARN", str(self.config_path)],
            env=env, cwd=self.workdir, ready_url=f"{base}/taxii2/", auth=(user, password),
            log_path=self.workdir / "server.log")
        self.info = ServerInfo(api_root=f"{base}/{self.API_ROOT}/", collections=self.collection_ids,
                               accounts=dict(users))



_OPENTAXII_YML = """\
domain: "{host}:{port}"
support_basic_auth: yes
return_server_error_details: no
auth_api:
  class: opentaxii.auth.sqldb.SQLDatabaseAPI
  parameters:
    db_connection: "sqlite:///{dir}/auth.db"
    create_tables: yes
    secret: "{secret}"
    token_ttl_secs: 3600
taxii1:
taxii2:
  persistence_api:
    class: opentaxii.persistence.sqldb.Taxii2SQLDatabaseAPI
    parameters:
      db_connection: "sqlite:///{dir}/data2.db"
      create_tables: yes
  max_content_length: {max_content_length}
  title: "legion test OpenTAXII"
  allow_custom_properties: yes
  public_discovery: no
logging:
  opentaxii: warning
  root: warning
"""

# Runs inside the OpenTAXII venv: set per-user permissions (the CLI cannot while taxii1 is disabled) and print the
# collections. Passwords arrive on stdin, never on the command line.
_SET_PERMISSIONS = textwrap.dedent("""\
    import json, sys
    from opentaxii.cli import app
    from opentaxii.cli.persistence import local_admin
    from opentaxii.local import context
    spec = json.load(sys.stdin)
    with app.app_context():
        context.account = local_admin
        api = app.taxii_server.servers.taxii2.persistence.api
        collections = {}
        for root in api.get_api_roots():
            for collection in api.get_collections(api_root_id=root.id):
                collections[collection.title] = str(collection.id)
        auth = app.taxii_server.auth.api
        for account in auth.get_accounts():
            rights = spec["permissions"].get(account.username)
            if rights is None:
                continue
            account.permissions = {collections[t]: r for t, r in rights.items()}
            auth.update_account(account, spec["passwords"][account.username])
    print(json.dumps(collections))
""")

_SERVE = textwrap.dedent("""\
    import sys
    from werkzeug.serving import run_simple
    from opentaxii.cli import app
    app.debug = False
    run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=True, use_reloader=False, use_debugger=False)
""")


class OpenTaxiiServer(ManagedServer):
    """OpenTAXII 0.10.0b1 (SQLite) on 127.0.0.1, run from ``.venv-opentaxii``.

    ``collections``: ``{title: {"public": bool, "public_write": bool}}`` (the title is also the alias).
    ``accounts``: ``{username: password}``; ``permissions``: ``{username: {title: ["read", "write"]}}``.
    """

    API_ROOT_ID = "aaaaaaaa-0000-4000-8000-000000000001"

    def __init__(self, workdir: Path, *, accounts: dict[str, str], collections: dict[str, dict[str, bool]],
                 permissions: dict[str, dict[str, list[str]]], max_content_length: int = 10 * 1024 * 1024):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.python = ensure_venv()
        self.bin = self.python.parent
        self.port = free_port()
        config = self.workdir / "opentaxii.yml"
        config.write_text(_OPENTAXII_YML.format(host=HOST, port=self.port, dir=self.workdir,
                                                secret=uuid.uuid4().hex, max_content_length=max_content_length),
                          encoding="utf-8")
        self.env = {**os.environ, "OPENTAXII_CONFIG": str(config)}
        self.env.pop("PYTHONPATH", None)
        self._cli("opentaxii-add-api-root", "-t", "federation", "-d", "legion test root", "--default",
                  "-i", self.API_ROOT_ID)
        for title, flags in collections.items():
            args = ["-r", self.API_ROOT_ID, "-t", title, "-a", title]
            if flags.get("public"):
                args.append("--public")
            if flags.get("public_write"):
                args.append("--public-write")
            self._cli("opentaxii-add-collection", *args)
        for username, password in accounts.items():
            self._cli("opentaxii-create-account", "-u", username, "-p", password)
        done = subprocess.run([str(self.python), "-c", _SET_PERMISSIONS], env=self.env, cwd=self.workdir,
                              input=json.dumps({"permissions": permissions, "passwords": accounts}),
                              capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"setting OpenTAXII permissions failed:\n{done.stderr}")
        collection_ids = json.loads(done.stdout.strip().splitlines()[-1])
        base = f"http://{HOST}:{self.port}"
        user, password = next(iter(accounts.items()))
        self.process = ServerProcess([str(self.python), "-c", _SERVE, str(self.port)], env=self.env,
                                     cwd=self.workdir, ready_url=f"{base}/taxii2/", auth=(user, password),
                                     log_path=self.workdir / "server.log")
        self.info = ServerInfo(api_root=f"{base}/taxii2/{self.API_ROOT_ID}/", collections=collection_ids,
                               accounts=dict(accounts))

    def _cli(self, name: str, *args: str) -> None:
        done = subprocess.run([str(self.bin / name), *args], env=self.env, cwd=self.workdir, capture_output=True,
                              text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{name} failed ({done.returncode}):\n{done.stderr[-2000:]}")

