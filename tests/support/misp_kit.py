"""A real MISP 2.5.1 for tests and benchmarks: a thin wrapper around ``start-misp.sh`` / ``stop-misp.sh``.

The scripts and the MISP source tarball live in ``../shared/misp`` (or ``$LEGION_MISP_SHARED``). MISP runs on free
127.0.0.1 ports (MISP, MariaDB, Redis, misp-modules), all its state under one ``MISP_HOME`` in /tmp, and is stopped
through ``stop-misp.sh`` (the PHP server as a process group). Resetting between test modules reloads a database
dump (~1 s) and flushes MISP's Redis database, instead of a restart.

:func:`unavailable_reason` says why MISP cannot run here (no scripts, not root and packages missing); callers skip
with that reason. A start that fails for any other reason raises :class:`MispStartError` with the script's log.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TARBALL_NAME = "misp-2.5.1-src.tar.xz"
REQUIRED_PROGRAMS = ("php", "mariadbd", "redis-server", "mariadb-dump")
MISP_DB = "misp"
MISP_REDIS_DB = "13"


class MispStartError(RuntimeError):
    """start-misp.sh failed although MISP should be able to run here."""


def shared_dir() -> Path | None:
    """The folder holding start-misp.sh, stop-misp.sh and the tarball, or None."""
    configured = os.environ.get("LEGION_MISP_SHARED")
    candidates = [Path(configured)] if configured else [REPO.parent / "shared" / "misp"]
    for candidate in candidates:
        if (candidate / "start-misp.sh").is_file() and (candidate / TARBALL_NAME).is_file():
            return candidate
    return None


def unavailable_reason() -> str | None:
    """Why a real MISP cannot be started on this machine, or None when it can."""
    folder = shared_dir()
    if folder is None:
        return ("no MISP 2.5.1 kit: ../shared/misp (or $LEGION_MISP_SHARED) with start-misp.sh and "
                f"{TARBALL_NAME} is absent")
    missing = [p for p in REQUIRED_PROGRAMS if not _installed(p)]
    if missing and os.geteuid() != 0:
        return f"MISP needs Debian packages ({', '.join(missing)} missing) and installing them needs root"
    if missing and not shutil.which("apt-get"):
        return f"MISP needs Debian packages ({', '.join(missing)} missing) and there is no apt-get"
    return None


def _installed(program: str) -> bool:
    return shutil.which(program) is not None or Path("/usr/sbin", program).exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class MispInstance:
    """A running MISP: its URL, admin key, home folder and the environment the scripts need."""

    url: str
    key: str
    home: Path
    env: dict[str, str]
    modules_url: str | None = None
    _dump: Path | None = field(default=None, repr=False)

    def pymisp(self, key: str | None = None, timeout: float = 120) -> Any:
        from pymisp import PyMISP

        return PyMISP(self.url, key or self.key, ssl=False, timeout=timeout)

    # ---- state -----------------------------------------------------------------------------------------------

    def _sql(self, *args: str, stdin: Any = None, stdout: Any = None) -> None:
        subprocess.run(["mariadb", f"--defaults-file={self.home / 'my.cnf'}", "-uroot", *args], stdin=stdin,
                       stdout=stdout, check=True, timeout=300)

    def snapshot(self) -> Path:
        """Dump the database now; :meth:`reset` goes back to it."""
        dump = self.home / "baseline.sql"
        with dump.open("wb") as out:
            subprocess.run(["mariadb-dump", f"--defaults-file={self.home / 'my.cnf'}", "-uroot",
                            "--single-transaction", MISP_DB], stdout=out, check=True, timeout=300)
        self._dump = dump
        return dump

    def reset(self) -> None:
        """Reload the snapshot's database and flush MISP's Redis database (~1 s)."""
        if self._dump is None:
            raise RuntimeError("no snapshot to reset to")
        with self._dump.open("rb") as dump:
            self._sql(MISP_DB, stdin=dump)
        subprocess.run(["redis-cli", "-p", self.env["MISP_REDIS_PORT"], "-n", MISP_REDIS_DB, "flushdb"],
                       stdout=subprocess.DEVNULL, check=True, timeout=60)

    def sql(self, statement: str) -> str:
        """Run one SQL statement on MISP's database (test set-up MISP's API cannot do) and return its output."""
        result = subprocess.run(["mariadb", f"--defaults-file={self.home / 'my.cnf'}", "-uroot", "-N", MISP_DB,
                                 "-e", statement], capture_output=True, text=True, check=True, timeout=120)
        return result.stdout

    def set_config(self, overrides: dict[str, Any]) -> None:
        """Write dotted-key settings straight into MISP's config.php (with start-misp.sh's own merge tool), for
        settings MISP's API refuses in this set-up (workflow triggers while background workers are off)."""
        path = self.home / "overrides-test.json"
        path.write_text(json.dumps(overrides))
        subprocess.run(["php", str(self.home / "tools" / "misp-config.php"), str(self.home / "MISP/app/Config"),
                        str(path)], check=True, timeout=60, capture_output=True)

    def redis(self, *args: str) -> str:
        result = subprocess.run(["redis-cli", "-p", self.env["MISP_REDIS_PORT"], "-n", MISP_REDIS_DB, *args],
                                capture_output=True, text=True, check=True, timeout=60)
        return result.stdout

    def cake(self, *args: str) -> str:
        """Run MISP's own console (``app/Console/cake``), e.g. ``cake("User", "init")``."""
        result = subprocess.run([str(self.home / "MISP" / "app" / "Console" / "cake"), *args], capture_output=True,
                                text=True, check=True, timeout=300, env=self.env)
        return result.stdout

    def stop(self, purge: bool = True) -> None:
        folder = shared_dir()
        if folder is None:
            return
        subprocess.run([str(folder / "stop-misp.sh"), *(["--purge"] if purge else [])], env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=120)


def start_misp(home: Path | None = None, *, modules_root: Path | None = None,
               enrichment_modules: tuple[str, ...] = (), skip_json: bool = True, workers: int = 4) -> MispInstance:
    """Start MISP (and misp-modules with ``modules_root`` as its custom root) on free loopback ports."""
    folder = shared_dir()
    reason = unavailable_reason()
    if folder is None or reason:
        raise MispStartError(reason or "no MISP kit")
    home = Path(home or tempfile.mkdtemp(prefix="legion-misp-", dir="/tmp"))
    env = dict(os.environ)
    env.update(MISP_HOME=str(home), MISP_PORT=str(free_port()), MISP_DB_PORT=str(free_port()),
               MISP_REDIS_PORT=str(free_port()), MISP_MODULES_PORT=str(free_port()), MISP_WORKERS=str(workers),
               MISP_ENRICHMENT_MODULES=" ".join(enrichment_modules))
    env.pop("MISP_SKIP_JSON", None)
    if skip_json:
        env["MISP_SKIP_JSON"] = "1"
    if modules_root is not None:
        executable = Path(os.environ.get("LEGION_MISP_MODULES_BIN", str(REPO / ".venv" / "bin" / "misp-modules")))
        if not executable.exists():
            found = shutil.which("misp-modules")
            executable = Path(found) if found else executable
        env.update(MISP_MODULES=str(executable), MISP_MODULES_ARGS=f"-c {modules_root}")
    else:
        env["MISP_MODULES"] = ""
    result = subprocess.run([str(folder / "start-misp.sh"), str(folder / TARBALL_NAME)], env=env,
                            capture_output=True, text=True, timeout=900, check=False)
    values = dict(line.split("=", 1) for line in result.stdout.split() if "=" in line)
    instance = MispInstance(url=values.get("MISP_URL", ""), key=values.get("MISP_KEY", ""), home=home, env=env,
                            modules_url=(f"http://127.0.0.1:{env['MISP_MODULES_PORT']}"
                                         if modules_root is not None else None))
    if result.returncode != 0 or not instance.url:
        instance.stop()
        raise MispStartError(f"start-misp.sh failed (rc {result.returncode}):\n{result.stderr[-3000:]}")
    return instance
