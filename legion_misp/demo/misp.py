"""``legion demo --misp``: member-7f3a (us) pulls the federation into a real MISP instead of a feed folder.

``--misp URL`` uses a running MISP (its API key in ``$LEGION_DEMO_MISP_KEY``; TLS verified unless the URL is plain
http on loopback). ``--misp auto`` uses ``$MISP_URL``/``$MISP_KEY`` when set, else starts the MISP 2.5.1 test kit
(``start-misp.sh`` in ``$LEGION_MISP_SHARED`` or ``../shared/misp`` beside the source tree) on free 127.0.0.1 ports
under /tmp, and stops it (``stop-misp.sh``, the PHP server as a process group) when the demo ends.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import legion_misp

from ..errors import ConfigError
from ..secrets import Secret

KEY_ENV = "LEGION_DEMO_MISP_KEY"
TARBALL = "misp-2.5.1-src.tar.xz"


def kit_dir() -> Path | None:
    """The folder with start-misp.sh and the MISP tarball, or None."""
    configured = os.environ.get("LEGION_MISP_SHARED")
    folder = Path(configured) if configured else Path(legion_misp.__file__).resolve().parents[2] / "shared" / "misp"
    return folder if (folder / "start-misp.sh").is_file() and (folder / TARBALL).is_file() else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def misp_store(choice: str, echo=print) -> Iterator[object]:
    """The MISP store for member-7f3a, from ``--misp`` (a URL or ``auto``); a kit MISP is stopped on exit."""
    from ..stores.misp_api import MispApiStore

    if choice != "auto":
        if not os.environ.get(KEY_ENV):
            raise ConfigError(f"--misp {choice}: put the MISP API key in ${KEY_ENV}")
        yield MispApiStore(choice, Secret(f"env:{KEY_ENV}"), verify_tls=not _lab_url(choice), timeout=120)
        return
    if os.environ.get("MISP_URL") and os.environ.get("MISP_KEY"):
        url = os.environ["MISP_URL"]
        yield MispApiStore(url, Secret("env:MISP_KEY"), verify_tls=not _lab_url(url), timeout=120)
        return
    folder = kit_dir()
    if folder is None:
        raise ConfigError("--misp auto: no MISP found (set MISP_URL and MISP_KEY, pass --misp URL, or provide the "
                          "MISP 2.5.1 kit in ../shared/misp or $LEGION_MISP_SHARED)")
    home = Path(tempfile.mkdtemp(prefix="legion-demo-misp-", dir="/tmp"))
    env = {**os.environ, "MISP_HOME": str(home), "MISP_PORT": str(_free_port()), "MISP_DB_PORT": str(_free_port()),
           "MISP_REDIS_PORT": str(_free_port()), "MISP_MODULES_PORT": str(_free_port()), "MISP_MODULES": "",
           "MISP_SKIP_JSON": "1"}
    echo(f"      starting MISP 2.5.1 from {folder} (first run: apt, ~1 min) ...")
    started = subprocess.run([str(folder / "start-misp.sh"), str(folder / TARBALL)], env=env, capture_output=True,
                             text=True, timeout=900, check=False)
    try:
        values = dict(line.split("=", 1) for line in started.stdout.split() if "=" in line)
        if started.returncode != 0 or "MISP_URL" not in values:
            raise ConfigError(f"--misp auto: start-misp.sh failed: {started.stderr.strip()[-500:]}")
        os.environ[KEY_ENV] = values["MISP_KEY"]
        echo(f"      MISP {values['MISP_URL']} up (state in {home})")
        yield MispApiStore(values["MISP_URL"], Secret(f"env:{KEY_ENV}"), verify_tls=False, timeout=120)
    finally:
        subprocess.run([str(folder / "stop-misp.sh"), "--purge"], env=env, capture_output=True, timeout=120,
                       check=False)


def _lab_url(url: str) -> bool:
    return url.startswith("http://127.0.0.1") or url.startswith("http://localhost")
