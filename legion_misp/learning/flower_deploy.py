"""Run the federation on Flower's deployment engine: one SuperLink and one SuperNode per member, TLS on,
SuperNode authentication on, each a separate process.

:func:`run_local_deployment` does it all on 127.0.0.1 (used by ``legion learn flower`` and the test). The building
blocks (:func:`make_tls_material`, :func:`make_node_key`, :func:`write_flower_app`) are what a real
multi-organisation deployment uses too; see ``examples/flower-deployment/``.

Processes are started with :class:`subprocess.Popen` and stopped by PID (SIGTERM, then SIGKILL after a grace
period): SuperNodes first, then the SuperLink. ``flwr`` itself is imported only inside the Flower processes; this
module needs only the ``flower-superlink``, ``flower-supernode`` and ``flwr`` executables of the ``federated`` extra.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import LegionError
from ..secrets import write_secret_file
from .data import Dataset, Splits, load_spambase, partition_iid, partition_label_skew, stratified_split
from .simulation import TrainingConfig

INSTALL_HINT = "pip install 'legion-misp[federated]'"
APP_MODULE = "legion_flower_app"
CONNECTION = "legion"


class FlowerDeploymentError(LegionError, RuntimeError):
    """A Flower process failed to start, the run failed, or it produced no result. Names the log to read."""


# ------------------------------------------------------------------------------------------- keys and certificates


@dataclass(frozen=True)
class TlsMaterial:
    """Paths of the CA certificate and the SuperLink's certificate and key (PEM)."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_tls_material(directory: str | Path, hosts: Sequence[str] = ("127.0.0.1", "localhost"),
                      *, days: int = 30) -> TlsMaterial:
    """Create a private CA and a SuperLink certificate for ``hosts`` (subject alternative names).

    Keys are EC P-384, written with mode 0600. For production, use your organisation's PKI instead.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "legion-misp federation CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA384())
    )
    server_key = ec.generate_private_key(ec.SECP384R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name).public_key(server_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA384())
    )
    material = TlsMaterial(out / "ca.crt", out / "server.pem", out / "server.key")
    material.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    material.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(material.server_key, server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return material


def make_node_key(directory: str | Path, name: str) -> tuple[Path, Path]:
    """Create a SuperNode authentication key pair (EC P-384, OpenSSH format); return (private, public) paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP384R1())
    private, public = out / f"{name}.key", out / f"{name}.pub"
    _write_private(private, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                              serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                     serialization.PublicFormat.OpenSSH) + b"\n")
    return private, public


def _write_private(path: Path, data: bytes) -> None:
    write_secret_file(path, data, replace=True)


# ------------------------------------------------------------------------------------------------ the Flower app

_PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "legion-dpfl"
version = "1.0.0"
description = "legion-misp: DP federated training of the compromised-message classifier"
license = "AGPL-3.0-or-later"
dependencies = ["legion-misp[federated]"]

[tool.hatch.build.targets.wheel]
packages = ["."]

[tool.flwr.app]
publisher = "legion-misp"

[tool.flwr.app.components]
serverapp = "{module}:server_app"
clientapp = "{module}:client_app"

[tool.flwr.app.config]
{config}
"""

_SHIM = '''"""Flower app entry points: the real code is legion_misp.learning.flower_app."""

from legion_misp.learning.flower_app import client_app, server_app

__all__ = ["client_app", "server_app"]
'''

DEFAULT_RUN_CONFIG: dict[str, Any] = {
    "num-server-rounds": 3, "epsilon": 1.64, "delta": 1e-5, "local-epochs": 10, "batch-size": 128,
    "learning-rate": 2.0, "momentum": 0.9, "clip-norm": 0.5, "l2": 1e-4, "accountant": "pld",
    "aggregator": "fedavg", "byzantine-f": 1, "min-nodes": 2, "node-wait-seconds": 120.0, "round-timeout": 300.0,
    "eval-path": "", "model-out": "", "summary-path": "", "data-description": "members' own messages",
}


def write_flower_app(directory: str | Path, run_config: dict[str, Any] | None = None) -> Path:
    """Write the Flower app directory (``pyproject.toml`` and a two-line shim) and return it."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    values = {**DEFAULT_RUN_CONFIG, **(run_config or {})}
    lines = "\n".join(f"{key} = {_toml_value(value)}" for key, value in values.items())
    (out / "pyproject.toml").write_text(_PYPROJECT.format(module=APP_MODULE, config=lines))
    (out / f"{APP_MODULE}.py").write_text(_SHIM)
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def run_config_override(values: dict[str, Any]) -> str:
    """``--run-config`` argument for ``flwr run`` (space-separated ``key=value`` in TOML syntax)."""
    return " ".join(f"{key}={_toml_value(value)}" for key, value in values.items())


def write_member_data(directory: str | Path, parts: Sequence[Dataset]) -> list[Path]:
    """Write each member's raw features and labels as ``member-<k>.npz`` (numeric arrays only)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, part in enumerate(parts, start=1):
        path = out / f"member-{k}.npz"
        np.savez(path, X=np.asarray(part.X, dtype=float), y=np.asarray(part.y, dtype=np.int64))
        paths.append(path)
    return paths


def write_eval_data(path: str | Path, splits: Splits) -> Path:
    """Server-held validation (threshold) and test (metrics) sets, raw features."""
    np.savez(path, X_val=splits.validation.X, y_val=splits.validation.y, X_test=splits.test.X,
             y_test=splits.test.y)
    return Path(path)


# ----------------------------------------------------------------------------------------------- processes


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def flower_executable(name: str) -> str:
    """Path of a Flower console script, preferring the running interpreter's environment.

    Raises
    ------
    ImportError
        With the install hint, if Flower is not installed.
    """
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ImportError(f"Flower's {name!r} executable was not found; install it with: {INSTALL_HINT}")
    return found


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]


@dataclass
class LocalDeployment:
    """SuperLink + SuperNodes on 127.0.0.1 with TLS and SuperNode authentication, as separate processes.

    Use as a context manager; leaving the block stops every process it started, by PID.
    """
    workdir: Path
    member_data: list[Path]
    ledger_dir: Path | None = None
    ledger_epsilon: float = 10.0
    seed: int | None = None
    processes: list[_Process] = field(default_factory=list)
    superlink_port: int = 0

    def __enter__(self) -> LocalDeployment:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- setup
    def environment(self, home: str) -> dict[str, str]:
        """Environment for a Flower process: offline, quiet, own FLWR_HOME, legion_misp importable."""
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])
        env.update({
            "FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1",
            "FLWR_HOME": str(self.workdir / "homes" / home), "UV_CACHE_DIR": str(self.workdir / "uv-cache"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p),
        })
        Path(env["FLWR_HOME"]).mkdir(parents=True, exist_ok=True)
        return env

    def start(self) -> None:
        """Create TLS material and node keys, start the SuperLink, register node keys, start the SuperNodes."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        tls = make_tls_material(self.workdir / "tls")
        keys = [make_node_key(self.workdir / "node-keys", f"member-{k}")
                for k in range(1, len(self.member_data) + 1)]
        self.superlink_port = free_port()
        self._spawn("superlink", [
            flower_executable("flower-superlink"), "--ssl-ca-certfile", str(tls.ca_cert),
            "--ssl-certfile", str(tls.server_cert), "--ssl-keyfile", str(tls.server_key),
            "--enable-supernode-auth", "--disable-runtime-dependency-installation",
            "--host", "127.0.0.1", "--port", str(self.superlink_port),
            "--database", str(self.workdir / "superlink.db"),
        ], home="superlink")
        self._write_cli_config(tls.ca_cert)
        self._wait_for_port(self.superlink_port, "superlink")
        self._register([public for _, public in keys])
        for k, ((private, _), data) in enumerate(zip(keys, self.member_data, strict=True), start=1):
            node_config = {"data-path": str(data), "member-id": f"member-{k}"}
            if self.ledger_dir is not None:
                node_config["ledger-path"] = str(self.ledger_dir / f"member-{k}.sqlite")
                node_config["ledger-epsilon"] = self.ledger_epsilon  # type: ignore[assignment]
            if self.seed is not None:
                node_config["seed"] = self.seed * 1000 + k  # type: ignore[assignment]
            self._spawn(f"supernode-{k}", [
                flower_executable("flower-supernode"), "--root-certificates", str(tls.ca_cert),
                "--superlink", f"127.0.0.1:{self.superlink_port}", "--auth-supernode-private-key", str(private),
                "--host", "127.0.0.1", "--port", str(free_port()),
                "--node-config", run_config_override(node_config),
            ], home=f"supernode-{k}")

    def _write_cli_config(self, ca_cert: Path) -> None:
        home = Path(self.environment("cli")["FLWR_HOME"])
        (home / "config.toml").write_text(
            f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\n'
            f'address = "127.0.0.1:{self.superlink_port}"\nroot-certificates = "{ca_cert}"\n'
        )

    def _spawn(self, name: str, argv: list[str], *, home: str) -> None:
        log_path = self.workdir / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("wb")
        popen = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, env=self.environment(home),
                                 cwd=self.workdir, start_new_session=True)
        self.processes.append(_Process(name, popen, log_path, log_file))

    def _wait_for_port(self, port: int, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = next(p for p in self.processes if p.name == name)
            if proc.popen.poll() is not None:
                raise FlowerDeploymentError(f"{name} exited with {proc.popen.returncode}; see {proc.log_path}")
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.3)
        raise FlowerDeploymentError(f"{name} did not open port {port} within {timeout:.0f} s")

    def _register(self, public_keys: list[Path], timeout: float = 120.0) -> None:
        """Register every SuperNode public key with the SuperLink (``flwr supernode register``), concurrently."""
        runs = [
            subprocess.Popen(
                [flower_executable("flwr"), "supernode", "register", str(key), CONNECTION, "--name", key.stem],
                env=self.environment("cli"), cwd=self.workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True,
            )
            for key in public_keys
        ]
        for key, run in zip(public_keys, runs, strict=True):
            output, _ = run.communicate(timeout=timeout)
            self._log_cli(["supernode", "register", str(key)], output, run.returncode)

    def _log_cli(self, args: list[str], output: str, code: int) -> None:
        log = self.workdir / "logs" / "flwr-cli.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as handle:
            handle.write(f"$ flwr {' '.join(args)}\n{output}\nexit {code}\n")
        if code != 0:
            raise FlowerDeploymentError(f"flwr {' '.join(args[:2])} failed (exit {code}); see {log}")

    def _cli(self, args: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([flower_executable("flwr"), *args], env=self.environment("cli"),
                                capture_output=True, text=True, timeout=timeout, cwd=self.workdir, check=False)
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        with (self.workdir / "logs" / "flwr-cli.log").open("a") as handle:
            handle.write(f"$ flwr {' '.join(args)}\n{result.stdout}\n{result.stderr}\nexit {result.returncode}\n")
        if result.returncode != 0:
            raise FlowerDeploymentError(f"flwr {args[0]} {args[1] if len(args) > 1 else ''} failed "
                                        f"(exit {result.returncode}); see {self.workdir / 'logs' / 'flwr-cli.log'}")
        return result

    # -- run and stop
    def run_app(self, app_dir: Path, run_config: dict[str, Any], *, timeout: float = 600.0) -> None:
        """``flwr run <app> legion --stream`` and wait for it to finish."""
        self._cli(["run", str(app_dir), CONNECTION, "--stream", "--run-config", run_config_override(run_config)],
                  timeout=timeout)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the SuperNodes, then the SuperLink (by PID); SIGKILL whatever is left after ``grace`` s."""
        nodes = [p for p in self.processes if p.name != "superlink"]
        links = [p for p in self.processes if p.name == "superlink"]
        for group in (nodes, links):
            for proc in group:
                _signal(proc, signal.SIGTERM)
            for proc in group:
                _reap(proc, grace)
        self.processes.clear()


def _signal(proc: _Process, sig: int) -> None:
    if proc.popen.poll() is None:
        try:
            os.killpg(proc.popen.pid, sig)  # its own session (process group): the app processes it spawned too
        except ProcessLookupError:
            pass


def _reap(proc: _Process, grace: float) -> None:
    try:
        proc.popen.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal(proc, signal.SIGKILL)
        proc.popen.wait(timeout=grace)
    proc.log_file.close()


@dataclass(frozen=True)
class DeploymentResult:
    """What the ServerApp wrote: per-round summary and the model file path (if requested)."""

    summary: dict[str, Any]
    model_path: Path | None
    workdir: Path


def deployment_data(members: int, *, partition: str = "iid", seed: int = 0) -> tuple[list[Dataset], Splits]:
    """The bundled Spambase data for a local deployment: a stratified split (raw features: each SuperNode
    preprocesses its own part) and the training part divided among ``members`` ("iid" or "label-skew")."""
    rng = np.random.default_rng([seed, 0])
    splits = stratified_split(load_spambase(), rng=rng)
    divide = partition_iid if partition == "iid" else partition_label_skew
    return divide(splits.train, members, rng), splits


def run_local_deployment(
    parts: Sequence[Dataset],
    splits: Splits,
    config: TrainingConfig,
    *,
    workdir: str | Path,
    aggregator: str = "fedavg",
    model_out: str | Path | None = None,
    ledger_dir: str | Path | None = None,
    ledger_epsilon: float = 10.0,
    seed: int | None = None,
    timeout: float = 600.0,
) -> DeploymentResult:
    """Train ``len(parts)`` members on Flower's deployment engine on 127.0.0.1 (TLS + SuperNode auth).

    ``parts`` hold each member's *raw* features; ``splits`` gives the server-held validation and test sets.

    Raises
    ------
    ImportError
        If Flower is not installed (with the install hint).
    FlowerDeploymentError
        If a process fails or the run produces no summary.
    """
    flower_executable("flwr")
    work = Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    data_paths = write_member_data(work / "data", parts)
    eval_path = write_eval_data(work / "data" / "server-eval.npz", splits)
    app_dir = write_flower_app(work / "app")
    summary_path = work / "summary.json"
    run_config = {
        "num-server-rounds": config.rounds, "epsilon": config.epsilon or 0.0, "delta": config.delta,
        "local-epochs": config.local_epochs, "batch-size": config.batch_size,
        "learning-rate": config.learning_rate, "momentum": config.momentum, "clip-norm": config.clip_norm,
        "l2": config.l2, "accountant": config.accountant, "aggregator": aggregator, "min-nodes": len(parts),
        "eval-path": str(eval_path), "summary-path": str(summary_path),
        "model-out": "" if model_out is None else str(Path(model_out).resolve()),
    }
    ledgers = None if ledger_dir is None else Path(ledger_dir).resolve()
    with LocalDeployment(work, data_paths, ledgers, ledger_epsilon, seed) as deployment:
        deployment.run_app(app_dir, run_config, timeout=timeout)
    if not summary_path.exists():
        raise FlowerDeploymentError(f"the run produced no summary; see the logs in {work / 'logs'}")
    return DeploymentResult(json.loads(summary_path.read_text()),
                            None if model_out is None else Path(model_out), work)
