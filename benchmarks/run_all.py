"""Run every benchmark (``benchmarks/bench_*.py``) and write ``benchmarks/results.md`` and ``results.json``.

Each benchmark module has ``run(quick: bool = False) -> list[dict]`` returning rows with the keys ``benchmark``,
``metric``, ``value``, ``unit``, ``baseline`` (what the ratio is against, measured in the same run), ``ratio``,
``target`` and ``met``. Timings are never asserted in tests; they are reported here, with the machine.

    python -m benchmarks.run_all [--quick] [--only sanitize,sync] [--merge]

``--merge`` keeps the rows of the benchmarks not run this time from the existing ``results.json`` (each row says when
it was measured), so one benchmark can be re-measured without re-running the others.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal")))
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory": memory, "python": platform.python_version(),
            "os": platform.platform()}


def discover(only: set[str] | None) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    return [n for n in names if only is None or n.removeprefix("bench_") in only]


def run_one(name: str, quick: bool) -> tuple[list[dict], str | None, float]:
    started = time.perf_counter()
    try:
        rows = importlib.import_module(f"benchmarks.{name}").run(quick=quick)
        return rows, None, time.perf_counter() - started
    except Exception:  # a failing benchmark is reported, the others still run
        return [], traceback.format_exc(limit=5), time.perf_counter() - started


def to_markdown(results: dict) -> str:
    info = results["machine"]
    lines = ["# Benchmark results", "",
             f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory']}, Python {info['python']}; "
             f"{'quick' if results['quick'] else 'full'} run of {results['date']}"
             + (f" ({', '.join(results['quick_for'])} at quick sizes)" if results.get("quick_for") else "") + ".",
             *_measured_line(results), "",
             "| benchmark | metric | value | unit | baseline (same run) | ratio | target | met |",
             "|---|---|---|---|---|---|---|---|"]
    for row in results["rows"]:
        ratio = row.get("ratio")
        lines.append("| {benchmark} | {metric} | {value} | {unit} | {baseline} | {ratio} | {target} | {met} |".format(
            **{**row, "value": _fmt(row.get("value")), "ratio": _fmt(ratio) if ratio is not None else "",
               "baseline": row.get("baseline") or "", "target": row.get("target") or "",
               "met": {True: "yes", False: "**no**", None: ""}.get(row.get("met"), "")}))
    for name, error in results["errors"].items():
        lines += ["", f"**{name} failed:**", "", "```", error.strip(), "```"]
    return "\n".join(lines) + "\n"


def _measured_line(results: dict) -> list[str]:
    """When rows come from different runs (``--merge``): which benchmark was measured when."""
    dates: dict[str, str] = {}
    for row in results["rows"]:
        dates.setdefault(row["benchmark"], row.get("measured", results["date"]))
    if len(set(dates.values())) <= 1:
        return []
    by_date: dict[str, list[str]] = {}
    for name, date in dates.items():
        by_date.setdefault(date, []).append(name)
    return ["Rows measured: " + "; ".join(", ".join(f"`{name}`" for name in names) + f" on {date}"
                                          for date, names in sorted(by_date.items())) + "."]


def kept_rows(ran: set[str]) -> list[dict]:
    """Rows of the previous ``results.json`` whose benchmark module did not run this time (for ``--merge``)."""
    path = HERE / "results.json"
    if not path.exists():
        return []
    previous = json.loads(path.read_text(encoding="utf-8"))
    modules = previous.get("modules", {})
    return [{**row, "measured": row.get("measured", previous["date"])} for row in previous["rows"]
            if modules.get(row["benchmark"], _module_guess(row["benchmark"])) not in ran]


def _module_guess(benchmark: str) -> str:
    """The module that wrote a row of an older results file (rows did not record it)."""
    return "bench_modules" if benchmark.startswith("classify") else f"bench_{benchmark}"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def write(results: dict) -> None:
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (HERE / "results.md").write_text(to_markdown(results), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--only", default=None, help="comma-separated benchmark names (e.g. sanitize,sync)")
    parser.add_argument("--quick-for", default="", help="comma-separated names to run at quick sizes only")
    parser.add_argument("--merge", action="store_true",
                        help="keep the previous results of the benchmarks not run this time")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    quick_for = {n for n in args.quick_for.split(",") if n}
    names = discover(only)
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    kept = kept_rows(set(names)) if args.merge else []
    results = {"machine": machine(), "quick": args.quick, "quick_for": sorted(quick_for), "date": date,
               "rows": list(kept), "errors": {}, "seconds": {}, "modules": {}}
    for name in names:
        quick = args.quick or name.removeprefix("bench_") in quick_for
        print(f"running {name}{' (quick sizes)' if quick else ''} ...", flush=True)
        rows, error, seconds = run_one(name, quick)
        results["modules"].update({row["benchmark"]: name for row in rows})
        results["rows"] += [{**row, "quick": quick, "measured": date} for row in rows]
        results["rows"].sort(key=lambda row: results["modules"].get(row["benchmark"], _module_guess(row["benchmark"])))
        results["quick_for"] = sorted({row["benchmark"] for row in results["rows"] if row.get("quick")})
        results["seconds"][name] = round(seconds, 1)
        if error:
            results["errors"][name] = error
            print(error, file=sys.stderr)
        print(f"  {name}: {len(rows)} rows in {seconds:.1f} s", flush=True)
        write(results)  # after every benchmark: a later failure or kill loses nothing measured so far
    print(to_markdown(results))
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
