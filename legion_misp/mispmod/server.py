"""Start and stop a real ``misp-modules`` server on 127.0.0.1 with legion-misp's custom module root.

Used by ``legion modules check``, the demo, the tests and the benchmark. The server is the stock one from the
``misp-modules`` package (``pip install 'legion-misp[modules]'``); it is stopped by PID.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ..errors import LegionError
from ..shipped import module_root

MODULE_TYPES = ("expansion", "export_mod", "import_mod", "action_mod")


def default_module_root() -> Path:
    """legion-misp's custom module root: ``misp_modules/`` of the source tree, or the copy shipped in the wheel."""
    return module_root()


def misp_modules_executable() -> str:
    """The ``misp-modules`` script next to this Python, else on PATH."""
    beside = Path(sys.executable).parent / "misp-modules"
    found = str(beside) if beside.exists() else shutil.which("misp-modules")
    if not found:
        raise LegionError("the misp-modules server is not installed: pip install 'legion-misp[modules]'")
    return found


def _death_signal_setter() -> Any:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when the thread that started it dies, even by SIGKILL
    (None elsewhere). Resolved in the parent: the child only calls into libc, never imports (fork-safe)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def set_death_signal() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return set_death_signal


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ModuleServer:
    """A misp-modules server process: ``with ModuleServer(root) as server: server.query({...})``."""

    def __init__(self, root: Path | None = None, *, port: int | None = None, startup_timeout: float = 90.0):
        self.root = Path(root or default_module_root())
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()

    def __enter__(self) -> ModuleServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        command = [misp_modules_executable(), "-l", "127.0.0.1", "-p", str(self.port), "-c", str(self.root)]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True,
                                        preexec_fn=_death_signal_setter())
        try:
            self._wait_healthy()
        except BaseException:  # Ctrl-C or SIGTERM while it starts: never leave it running
            self.stop()
            raise

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LegionError(f"misp-modules exited with code {self.process.returncode}:\n{self.log_tail()}")
            if self.healthy():
                return
            time.sleep(0.2)
        raise LegionError(f"misp-modules did not become healthy within {self.startup_timeout:g} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def healthy(self) -> bool:
        try:
            return self.get("/healthcheck") == {"status": True}
        except (OSError, ValueError):
            return False

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:  # noqa: S310 - loopback URL we built
            return json.loads(response.read())

    def post_raw(self, body: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + "/query", data=body, method="POST",  # noqa: S310
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def query(self, request: dict[str, Any], timeout: float = 30.0) -> Any:
        status, body = self.post_raw(json.dumps(request).encode("utf-8"), timeout)
        if status != 200:
            raise LegionError(f"misp-modules answered HTTP {status}")
        return json.loads(body)

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        self._log.seek(0)
        return "\n".join(self._log.read().decode("utf-8", "replace").splitlines()[-lines:])

    def rss_bytes(self) -> int:
        """Resident memory of the server process (Linux /proc)."""
        if self.process is None:
            return 0
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        return kib * 1024
