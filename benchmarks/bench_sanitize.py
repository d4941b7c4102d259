"""Benchmark: sanitising MISP events vs converting the same events to STIX 2.1 with misp-stix.

1,000 synthetic events × 50 attributes (realistic mix: external indicators, internal values that must be
dropped, free text to scrub, sightings, counters, first/last seen, an object). In the same run:

- the sanitiser (:class:`~legion_misp.privacy.sanitizer.Sanitizer`: secure exact noise, pseudonyms, scrubbing);
- misp-stix's ``MISPtoSTIX21Parser().parse_misp_event`` on the same events,

timed in alternating chunks of 25 events (sanitise 25, convert the same 25, ...) so that both see the same load.

Target: sanitising costs at most 10 % of the conversion time. Since the continual (binary-tree) sighting counter,
every shared attribute draws about 7 noise samples (2 sighting types × the tree nodes of the last 32–64 days)
instead of 2; they come from the vectorised exact sampler (:mod:`legion_misp.privacy.sampling`, ~0.2-0.6 µs a sample
instead of ~6.6 µs through OpenDP's measurement), and every timed event draws fresh noise (the pool is emptied after
the warm-up). The noise store then makes every later release of an unchanged datum free (``bench_release``).

Memory: peak RSS of a streaming release (generated source -> sanitiser -> discarding sink) in a fresh subprocess for
1k and 10k events; streaming means the 10k peak stays within 10 % of the 1k peak.

Run: ``python -m benchmarks.bench_sanitize [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.memory import peak_rss_mib

REPO = Path(__file__).resolve().parents[1]
ATTRIBUTES_PER_EVENT = 50
BENCH_KEY = b"benchmark-federation-key-0123456789"


def make_event(index: int, rng: random.Random) -> dict[str, Any]:
    """One synthetic event of Example Energy Ltd with 50 attributes (45 top level, 5 in a file object)."""
    def attr(attribute_type: str, value: str, **extra: Any) -> dict[str, Any]:
        return {"uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "type": attribute_type,
                "value": value, "category": extra.pop("category", None) or _category(attribute_type),
                "to_ids": attribute_type not in ("text", "comment", "counter"), "timestamp": "1740000000",
                "distribution": "5", **extra}

    top: list[dict[str, Any]] = []
    for k in range(45):
        kind = k % 15
        if kind == 0:
            top.append(attr("ip-dst", f"203.0.113.{rng.randrange(1, 255)}", Sighting=[
                {"uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "type": "0", "source": "sensor-7",
                 "date_sighting": "1740000100", "Organisation": {"name": "Example Energy Ltd",
                                                                 "uuid": "df79edc8-012e-4803-92aa-7184c09c10ba"}}
                for _ in range(rng.randrange(0, 8))],
                first_seen="2025-02-01T10:00:00.000000+00:00", last_seen="2025-02-03T10:00:00.000000+00:00"))
        elif kind == 1:
            top.append(attr("domain", f"c2-{index}-{k}.example.net"))
        elif kind == 2:
            top.append(attr("url", f"http://c2-{index}-{k}.example.net/gate.php?id={rng.getrandbits(32):x}"))
        elif kind == 3:
            top.append(attr("md5", f"{rng.getrandbits(128):032x}"))
        elif kind == 4:
            top.append(attr("sha256", f"{rng.getrandbits(256):064x}"))
        elif kind == 5:
            top.append(attr("filename", f"invoice_{rng.randrange(10**6)}.pdf.exe"))
        elif kind == 6:
            top.append(attr("email-src", f"billing{k}@invoice-portal.example"))
        elif kind == 7:
            top.append(attr("ip-src", f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"))
        elif kind == 8:
            top.append(attr("hostname", f"ws{rng.randrange(1000):03d}.corp.example"))
        elif kind == 9:
            top.append(attr("text", f"Beacon from ws{k}.corp.example to 198.51.100.{k} seen by the SOC "
                                    f"(INC-{rng.randrange(10**7):07d})"))
        elif kind == 10:
            top.append(attr("counter", str(rng.randrange(1, 5000))))
        elif kind == 11:
            top.append(attr("email-dst", f"user{k}@partner-utility.example"))
        elif kind == 12:
            top.append(attr("user-agent", f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Loader/{k}"))
        elif kind == 13:
            top.append(attr("ip-dst|port", f"198.51.100.{rng.randrange(1, 255)}|{rng.choice([443, 8080, 8443])}"))
        else:
            top.append(attr("target-user", f"staff{k}", category="Targeting data"))
    file_object = {"uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "name": "file",
                   "meta-category": "file", "distribution": "5", "timestamp": "1740000000",
                   "template_uuid": "688c46fb-5edb-40a3-8273-1af7923e2215", "template_version": "22",
                   "Attribute": [attr("filename", "svc_update.dll", object_relation="filename"),
                                 attr("md5", f"{rng.getrandbits(128):032x}", object_relation="md5"),
                                 attr("sha1", f"{rng.getrandbits(160):040x}", object_relation="sha1"),
                                 attr("sha256", f"{rng.getrandbits(256):064x}", object_relation="sha256"),
                                 attr("size-in-bytes", str(rng.randrange(10**4, 10**7)),
                                      object_relation="size-in-bytes")]}
    return {"uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "info": f"Loader campaign {index}",
            "date": "2025-02-03", "threat_level_id": "2", "analysis": "1", "distribution": "3",
            "published": True, "timestamp": str(1740000000 + index), "publish_timestamp": str(1740000000 + index),
            "Orgc": {"name": "Example Energy Ltd", "uuid": "df79edc8-012e-4803-92aa-7184c09c10ba"},
            "Org": {"name": "Example Energy Ltd", "uuid": "df79edc8-012e-4803-92aa-7184c09c10ba"},
            "Tag": [{"name": "tlp:green"}, {"name": 'misp-galaxy:mitre-attack-pattern="Phishing - T1566"'}],
            "Attribute": top, "Object": [file_object]}


def _category(attribute_type: str) -> str:
    from legion_misp.privacy.gates import default_category

    return default_category(attribute_type)


def generate(count: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for index in range(count):
        yield make_event(index, rng)


def make_sanitizer() -> Any:
    from legion_misp.privacy.sanitizer import Sanitizer
    from legion_misp.sections import load_default_config

    return Sanitizer.from_config(load_default_config(base_dir=REPO), pseudonym_key=BENCH_KEY)


def time_both(events: list[dict[str, Any]], chunk: int = 25) -> tuple[float, float]:
    """(sanitising seconds, misp-stix seconds) of the same events, timed in alternating chunks of ``chunk`` events so
    that both see the same load on a shared machine (a 3-second sanitising run timed apart from a 40-second
    conversion run would catch a different share of the other processes' load)."""
    import logging

    from misp_stix_converter import MISPtoSTIX21Parser

    from legion_misp.privacy.mechanisms import SecureNoise

    logging.getLogger("misp_stix_converter").setLevel(logging.ERROR)
    sanitizer = make_sanitizer()
    sanitizer.sanitize(events[0])  # warm-up: OpenDP library and regex compilation
    sanitizer.noise = SecureNoise()  # an empty noise pool: the timed events draw all of their own noise
    MISPtoSTIX21Parser().parse_misp_event({"Event": events[0]})  # warm-up
    gc.collect()  # the imports' garbage is collected now, not in whichever timed chunk comes first (GC stays on)
    sanitize_seconds = stix_seconds = 0.0
    for start in range(0, len(events), chunk):
        part = events[start:start + chunk]
        started = time.perf_counter()
        for event in part:
            sanitizer.sanitize(event)
        sanitize_seconds += time.perf_counter() - started
        started = time.perf_counter()
        for event in part:
            MISPtoSTIX21Parser().parse_misp_event({"Event": event})
        stix_seconds += time.perf_counter() - started
    return sanitize_seconds, stix_seconds


def time_misp_stix(events: list[dict[str, Any]]) -> float:
    import logging

    from misp_stix_converter import MISPtoSTIX21Parser

    logging.getLogger("misp_stix_converter").setLevel(logging.ERROR)
    MISPtoSTIX21Parser().parse_misp_event({"Event": events[0]})  # warm-up
    gc.collect()  # as after the sanitiser's warm-up: start-up garbage is not timed (GC stays on)
    started = time.perf_counter()
    for event in events:
        MISPtoSTIX21Parser().parse_misp_event({"Event": event})
    return time.perf_counter() - started


def streaming_peak_rss(count: int) -> float:
    """Peak RSS (MiB) of a fresh process streaming ``count`` events through a release to a discarding sink."""
    completed = subprocess.run([sys.executable, "-m", "benchmarks.bench_sanitize", "--stream", str(count)],
                               cwd=REPO, capture_output=True, text=True, check=True)
    return float(json.loads(completed.stdout.strip().splitlines()[-1])["peak_rss_mib"])


def _stream(count: int) -> None:
    from legion_misp.privacy.ledger import Ledger
    from legion_misp.privacy.release import sanitize_events
    from legion_misp.stores.base import EventSink, EventSource, UpsertResult

    class GeneratedSource(EventSource):
        def query(self, **_: Any) -> Iterator[dict[str, Any]]:
            return generate(count)

        def get(self, event_uuid: str) -> None:
            return None

    class DiscardingSink(EventSink):
        def upsert(self, event: dict[str, Any], *, force: bool = False) -> UpsertResult:
            json.dumps(event)  # serialise as a real sink would, then drop
            return UpsertResult.CREATED

        def add_sighting(self, *args: Any, **kwargs: Any) -> None:
            raise NotImplementedError

    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        ledger = Ledger(Path(folder) / "ledger.sqlite", budget_epsilon=10.0)
        summary = sanitize_events(GeneratedSource(), DiscardingSink(), make_sanitizer(), ledger=ledger)
    print(json.dumps({"events": summary.events_read, "peak_rss_mib": peak_rss_mib()}))


def _row(metric: str, value: float, unit: str, baseline: float | None = None, ratio: float | None = None,
         target: str | None = None, met: bool | None = None) -> dict[str, Any]:
    return {"benchmark": "sanitize", "metric": metric, "value": round(value, 3), "unit": unit,
            "baseline": None if baseline is None else round(baseline, 3),
            "ratio": None if ratio is None else round(ratio, 4), "target": target, "met": met}


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Measure and return the result rows (see the module docstring)."""
    count = 100 if quick else 1000
    events = list(generate(count, seed=2))
    attributes = count * ATTRIBUTES_PER_EVENT
    sanitize_seconds, stix_seconds = time_both(events)
    ratio = sanitize_seconds / stix_seconds
    small, large = (200, 2000) if quick else (1000, 10000)
    rss_small, rss_large = streaming_peak_rss(small), streaming_peak_rss(large)
    growth = rss_large / rss_small
    return [
        _row(f"events/s ({count} events x {ATTRIBUTES_PER_EVENT} attributes)", count / sanitize_seconds,
             "events/s", baseline=count / stix_seconds, ratio=ratio,
             target="sanitising time <= 10% of misp-stix MISP->STIX 2.1 time", met=ratio <= 0.10),
        _row("attributes/s", attributes / sanitize_seconds, "attributes/s", baseline=attributes / stix_seconds),
        _row("misp-stix MISP->STIX 2.1 events/s (baseline, same events, same run)", count / stix_seconds,
             "events/s"),
        _row(f"peak RSS, streaming {large} vs {small} events", rss_large, "MiB", baseline=rss_small,
             ratio=growth, target="peak memory does not grow with the number of events (<= 1.10x)",
             met=growth <= 1.10),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 events, 200 vs 2000 for memory")
    parser.add_argument("--stream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stream:
        _stream(args.stream)
        return
    for row in run(quick=args.quick):
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
