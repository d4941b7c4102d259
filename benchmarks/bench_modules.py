"""legion_classify through the real misp-modules server: 8 concurrent clients × 500 queries.

Reports p50/p99 latency, errors, and the server's RSS before and after. Baselines measured in the same run: the
latency of the server's own ``/healthcheck`` round trip under the same load (HTTP + Tornado cost), and the in-process
``dict_handler`` time (our work alone). Targets (issue 7): p99 ≤ 100 ms, 0 errors, RSS stable.

    python -m benchmarks.bench_modules [--quick]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from legion_misp.learning.data import SPAMBASE_DESCRIPTION, load_spambase
from legion_misp.learning.experiment import prepare_seed
from legion_misp.learning.model_io import ModelFile, save_model
from legion_misp.learning.simulation import TrainingConfig, build_federation
from legion_misp.mispmod import classify
from legion_misp.mispmod.server import ModuleServer

BODIES = ["URGENT!!! You have WON $1,000,000 FREE money. Click here to claim your prize now!!!",
          "Hi team, the project meeting moved to Tuesday; the report and data for the lab are attached.",
          "Your account was suspended. Verify your password at the link below within 24 hours or lose access."]


def export_model(path: Path) -> Path:
    """The model file an admin would deploy, as ``legion learn export`` trains it (4 members, 3 rounds, ε = 1.64,
    seed 0)."""
    config = TrainingConfig(rounds=3, epsilon=1.64)
    splits = prepare_seed(load_spambase(), 0)
    rng = np.random.default_rng([0, 1])
    result = build_federation(splits, config, members=4, rng=rng).train(config, splits, rng=rng)
    save_model(ModelFile.from_result(result, config, data=SPAMBASE_DESCRIPTION,
                                     training={"members": 4, "engine": "in-process simulation"}), path)
    return path


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _request(model_path: Path, index: int) -> bytes:
    return json.dumps({"module": "legion_classify", "config": {"model_path": str(model_path)},
                       "attribute": {"type": "email-body", "value": BODIES[index % len(BODIES)],
                                     "uuid": str(uuid.uuid4())}}).encode()


def _timed_post(url: str, body: bytes) -> tuple[float, bool]:
    started = time.perf_counter()
    try:
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        ok = isinstance(answer, dict) and "error" not in answer and answer["results"]["Object"]
    except Exception:
        ok = False
    return time.perf_counter() - started, bool(ok)


def _timed_get(url: str) -> tuple[float, bool]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            ok = json.loads(response.read()) == {"status": True}
    except Exception:
        ok = False
    return time.perf_counter() - started, ok


def _load(fn, jobs: list, clients: int) -> list[tuple[float, bool]]:
    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(lambda job: fn(*job), jobs))


def run(quick: bool = False) -> list[dict]:
    clients, per_client = 8, (50 if quick else 500)
    total = clients * per_client
    with tempfile.TemporaryDirectory() as folder, ModuleServer() as server:
        model = export_model(Path(folder) / "model.json")
        in_process = []
        for index in range(200):
            started = time.perf_counter()
            classify.dict_handler(json.loads(_request(model, index)))
            in_process.append(time.perf_counter() - started)
        _load(_timed_post, [(server.url + "/query", _request(model, i)) for i in range(clients * 5)], clients)  # warm
        rss_before = server.rss_bytes()
        results = _load(_timed_post, [(server.url + "/query", _request(model, i)) for i in range(total)], clients)
        rss_after = server.rss_bytes()
        health = _load(_timed_get, [(server.url + "/healthcheck",) for _ in range(total // 4)], clients)
    latencies = [seconds * 1000 for seconds, _ in results]
    errors = sum(1 for _, ok in results if not ok)
    p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
    health_p50 = _percentile([s * 1000 for s, _ in health], 0.5)
    own_ms = statistics.median(in_process) * 1000
    rss_growth = (rss_after - rss_before) / rss_before
    name = f"classify via misp-modules, {clients} clients x {per_client}"
    return [
        {"benchmark": name, "metric": "p50 latency", "value": p50, "unit": "ms",
         "baseline": f"/healthcheck p50 under the same load: {health_p50:.2f} ms", "ratio": p50 / health_p50,
         "target": None, "met": None},
        {"benchmark": name, "metric": "p99 latency", "value": p99, "unit": "ms", "baseline": None, "ratio": None,
         "target": "<= 100 ms", "met": p99 <= 100},
        {"benchmark": name, "metric": "errors", "value": errors, "unit": f"of {total}", "baseline": None,
         "ratio": None, "target": "0", "met": errors == 0},
        {"benchmark": name, "metric": "in-process handler (median)", "value": own_ms, "unit": "ms",
         "baseline": "p50 through the server", "ratio": own_ms / p50, "target": None, "met": None},
        {"benchmark": name, "metric": "server RSS growth over the run", "value": rss_growth * 100, "unit": "%",
         "baseline": f"RSS after warm-up {rss_before / 2**20:.0f} MiB -> {rss_after / 2**20:.0f} MiB",
         "ratio": rss_after / rss_before, "target": "stable (<= 10 %)", "met": rss_growth <= 0.10},
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
