"""The demo's stages, in order. Each capability appends its stage here."""

from __future__ import annotations

import secrets
from collections import Counter
from pathlib import Path

from ..config import example_config_text
from ..errors import StoreError
from ..mispmod.server import ModuleServer
from ..privacy.ledger import Ledger
from ..privacy.pseudonyms import key_from_text
from ..privacy.release import sanitize_events
from ..privacy.sanitizer import Sanitizer
from ..secrets import write_secret_file
from ..sections import load_default_config, parse_config
from ..stores import FeedStore
from ..stores.events import iter_attributes
from . import DemoContext, Stage, StageResult
from .learning_stage import learning_stage
from .report import distribution_name, new_figure
from .sharing_stage import federation_stage


def demo_config(ctx: DemoContext) -> object:
    """The embedded example configuration, with the example staff directory as ``sensitive_terms_file``."""
    text = example_config_text()
    staff = ctx.events_dir.parent / "staff-directory.txt"
    if staff.exists():
        text = text.replace('# sensitive_terms_file = "file:terms.txt"', f"sensitive_terms_file = 'file:{staff}'")
    return parse_config(text, base_dir=ctx.out_dir)


def load_examples(ctx: DemoContext) -> StageResult:
    """Load the example events into the organisation's own feed store (demo-output/feed-local)."""
    ctx.data["config"] = demo_config(ctx)
    errors: list[StoreError] = []
    source = FeedStore(ctx.events_dir, create=False)
    local = FeedStore(ctx.out_dir / "feed-local")
    with local.batch():
        counts = local.upsert_many(source.query(on_error=errors.append), on_error=errors.append)
    events = list(local.query())
    ctx.data["local_store"] = local
    distributions = Counter(str(e.get("distribution")) for e in events)
    attributes = sum(1 for e in events for _ in iter_attributes(e))
    rows = [("events loaded", f"{len(events)} ({counts['created']} new, {counts['updated']} updated, "
                              f"{counts['unchanged']} unchanged)"),
            ("attributes", str(attributes)),
            ("distribution levels", ", ".join(f"{distribution_name(k)}: {v}"
                                              for k, v in sorted(distributions.items()))),
            ("feed directory", str(local.path))]
    section = ctx.report.section("The organisation's events")
    ctx.report.paragraph(section, f"{len(events)} example MISP events of the fictional Example Energy Ltd were "
                                  f"loaded into the MISP feed directory {local.path} (any MISP instance can "
                                  "subscribe to it).")
    ctx.report.table(section, ["distribution", "events"],
                     [[distribution_name(k), v] for k, v in sorted(distributions.items())])
    for error in errors:
        ctx.echo(f"      error: {error}")
    if errors:
        rows.append(("errors", str(len(errors))))
    return StageResult("load", rows, ok=not errors)


STAGES: list[tuple[str, Stage]] = [
    ("Load the example events into the local MISP feed store", load_examples),
]


DEMO_KEY_FILE = "demo-federation.key"
DEMO_LEDGER_FILE = "demo-privacy-ledger.sqlite"


def _demo_pseudonym_key(out_dir: Path) -> bytes:
    """The demo's pseudonym key: generated once into ``out_dir`` (mode 0600), never printed."""
    path = out_dir / DEMO_KEY_FILE
    if not path.exists():
        write_secret_file(path, secrets.token_hex(32))
    return key_from_text(path.read_text(encoding="utf-8"))


def sanitize_examples(ctx: DemoContext) -> StageResult:
    """Sanitise the local store into demo-output/feed-shared with secure exact noise and a demo-only ledger.

    No longer one of :data:`STAGES`: the federation stage sanitises every member's feed with its own ledger (and
    reuses :func:`_report_sanitize` for member-7f3a). Kept as the single-organisation building block."""
    config = ctx.data.get("config") or load_default_config(base_dir=ctx.out_dir)
    sanitizer = Sanitizer.from_config(config, pseudonym_key=_demo_pseudonym_key(ctx.out_dir))
    ledger_path = ctx.out_dir / DEMO_LEDGER_FILE
    ledger_path.unlink(missing_ok=True)  # demo only: every demo run starts with a full budget
    ledger = Ledger(ledger_path, budget_epsilon=10.0, budget_delta=1e-4, window_days=30)
    shared = FeedStore(ctx.out_dir / "feed-shared")
    reports = []
    summary = sanitize_events(ctx.data["local_store"], shared, sanitizer, ledger=ledger, on_event=reports.append,
                              what="demo sanitize")
    ctx.data.update(shared_store=shared, sanitize_summary=summary, sanitize_reports=reports, privacy_ledger=ledger)
    for report in reports:
        if report.outcome == "failed":
            ctx.echo(f"      error: {report.error}")
    actions = summary.actions
    rows = [("events shared / kept home", f"{summary.shared} / {summary.dropped}"),
            ("attributes dropped", str(actions["dropped"])),
            ("pseudonymised", str(actions["pseudonymised"])),
            ("text scrubbed", str(actions["scrubbed"])),
            ("values noised (DP)", str(actions["noised"])),
            ("ε spent (release)", f"{summary.cost.epsilon:g} (δ {summary.cost.delta:.1g}), ledger "
                                  f"{ledger.spent()[0]:g} of {ledger.budget_epsilon:g}"),
            ("shared feed", str(shared.path))]
    if summary.failed:
        rows.append(("errors", str(summary.failed)))
    _report_sanitize(ctx, summary, reports)
    return StageResult("sanitize", rows, ok=not summary.failed)


def _report_sanitize(ctx: DemoContext, summary: object, reports: list) -> None:
    """What the sanitiser dropped, pseudonymised, scrubbed and noised, by reason (a table and a bar chart)."""
    by_reason = Counter((a.action, a.reason) for r in reports for a in r.actions)
    section = ctx.report.section("What left the organisation, and what did not")
    ctx.report.paragraph(section, f"{summary.shared} of {summary.events_read} events were shared (sanitised), "
                                  f"{summary.dropped} stayed home. The release cost ε = {summary.cost.epsilon:g}, "
                                  f"δ = {summary.cost.delta:.1g}, debited in the ledger before anything was written. "
                                  "Reasons never contain the protected values.")
    ctx.report.table(section, ["action", "reason", "count"],
                     [[action, reason, count] for (action, reason), count in by_reason.most_common(25)])
    figure = new_figure(6.4, 3.2)
    axes = figure.subplots()
    actions = Counter(a.action for r in reports for a in r.actions)
    axes.barh(list(actions), list(actions.values()), color="#2b5797")
    axes.set_xlabel("changes")
    ctx.report.figure(section, figure, "Changes made by the sanitiser, by kind.",
                      png_path=ctx.out_dir / "plots" / "sanitiser-actions.png")


def _federation(ctx: DemoContext) -> StageResult:
    return federation_stage(ctx)


STAGES.append(("The federation: four members sanitise, sign and publish over TAXII 2.1, then pull, verify and "
               "corroborate (member-m attacks)", _federation))


def _learning(ctx: DemoContext) -> StageResult:
    return learning_stage(ctx)


STAGES.append(("Train the compromised-message classifier with DP federated learning (4 members, 3 rounds)",
               _learning))

SAMPLE_MESSAGES = [
    ("email object: prize notification", {"object": {"name": "email", "uuid": "4a8e1c52-6f0e-4c1b-9d7e-2b3c5a6d7e81",
     "Attribute": [{"type": "email-subject", "object_relation": "subject", "value": "You have WON $1,000,000!!!"},
                   {"type": "email-body", "object_relation": "email-body",
                    "value": "CLICK HERE to claim your FREE prize money now!!! Credit card required. $$$ Order "
                             "now, 100% free, remove yourself from our list."}]}}),
    ("email-body: meeting note", {"attribute": {"type": "email-body", "uuid": "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
     "value": "Hi George, the project meeting moved to Tuesday; the lab report and data are attached."}}),
    ("email-subject: account suspended", {"attribute": {"type": "email-subject",
     "uuid": "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
     "value": "FINAL NOTICE: your account is SUSPENDED, verify your credit card NOW to receive your money"}}),
]


def classify_samples(ctx: DemoContext) -> StageResult:
    """Start the real misp-modules server with our modules and classify sample messages through it."""
    model_path = ctx.data.get("model_path")
    if model_path is None:
        return StageResult("modules", [("error", "no model: the learning stage did not run")], ok=False)
    rows, table = [], []
    with ModuleServer() as server:
        loaded = sorted(m["name"] for m in server.get("/modules") if m["name"].startswith("legion_"))
        rows.append(("misp-modules server", f"{server.url}: {len(loaded)} legion modules loaded"))
        for label, body in SAMPLE_MESSAGES:
            answer = server.query({"module": "legion_classify", "config": {"model_path": str(model_path)}, **body})
            if "error" in answer:
                return StageResult("modules", [*rows, (label, f"error: {answer['error']}")], ok=False)
            verdict = {a["object_relation"]: a["value"] for a in answer["results"]["Object"][0]["Attribute"]}
            rows.append((label, f"{verdict['verdict']} (score {verdict['score']:.3f})"))
            table.append([label, verdict["verdict"], verdict["score"], verdict["threshold"],
                          verdict.get("epsilon"), verdict["model-id"][:12]])
    section = ctx.report.section("MISP modules: classifying messages through the real misp-modules server")
    ctx.report.paragraph(section, "The stock misp-modules server was started with legion-misp's custom module root; "
                                  "these are the legion_classify answers an analyst would see in MISP.")
    ctx.report.table(section, ["message", "verdict", "score", "threshold", "model ε", "model id"], table)
    ctx.data["classified"] = len(table)
    return StageResult("modules", rows, ok=True)


STAGES.append(("Classify sample messages through the real misp-modules server", classify_samples))


# The privacy unit each kind of ledger protects: ε of different units must never share an axis.
BUDGET_UNITS = {
    "sanitise": ("Sanitising releases", "one sighting, numeric value or timestamp of one event"),
    "learning": ("Federated learning", "one training message of one member"),
}


def budget_overview(ctx: DemoContext) -> StageResult:
    """ε spent against each ledger's budget, one plot per privacy unit: each federation member's sanitising releases
    (members/<pseudonym>/privacy-ledger.sqlite) and each member's learning (learning/ledger-<pseudonym>.sqlite)."""
    members_dir, learning_dir = ctx.out_dir / "members", ctx.out_dir / "learning"
    ledgers = {"sanitise": {p.parent.name: p for p in sorted(members_dir.glob("*/privacy-ledger.sqlite"))},
               "learning": {p.stem.removeprefix("ledger-"): p
                            for p in sorted(learning_dir.glob("ledger-*.sqlite"))}}
    spent: dict[str, dict[str, tuple[float, float, int]]] = {}
    for unit, paths in ledgers.items():
        for member, path in paths.items():
            ledger = Ledger(path, budget_epsilon=10.0)
            spent.setdefault(unit, {})[member] = (ledger.spent()[0], ledger.budget_epsilon, len(ledger.entries()))
    if not spent:
        return StageResult("budget", [("ledgers", "none found")], ok=False)
    section = ctx.report.section("Privacy budget: ε spent per member against its budget")
    ctx.report.paragraph(section, "Every DP release is debited in the member's SQLite ledger before it leaves; a "
                                  "release that would overspend is refused. Each kind of ledger protects its own "
                                  "unit, so each has its own plot: ε of different units do not add up.")
    ctx.report.table(section, ["ledger", "privacy unit", "ε spent", "budget", "releases"],
                     [[f"{member} ({unit})", BUDGET_UNITS[unit][1], e, b, k]
                      for unit, members in spent.items() for member, (e, b, k) in members.items()])
    for unit, members in spent.items():
        title, protects = BUDGET_UNITS[unit]
        ctx.report.figure(section, _budget_figure(members), f"{title}: ε spent per member (bars) against its "
                          f"budget per 30 days (dashed). Privacy unit: {protects}.",
                          png_path=ctx.out_dir / "plots" / f"epsilon-{unit}.png")
    within = all(e <= b + 1e-9 for members in spent.values() for e, b, _ in members.values())
    rows = [(f"{member} ({unit})", f"ε {e:.3g} of {b:g} ({k} releases)")
            for unit, members in spent.items() for member, (e, b, k) in members.items()]
    return StageResult("budget", rows, ok=within)


def _budget_figure(members: dict[str, tuple[float, float, int]]) -> object:
    figure = new_figure(6.4, 0.6 + 0.45 * len(members))
    axes = figure.subplots()
    names = list(members)
    axes.barh(names, [members[n][0] for n in names], color="#2b5797", label="ε spent")
    axes.axvline(members[names[0]][1], color="#a11", linestyle="--", label="budget (ε per 30 days)")
    axes.set_xlabel("ε")
    axes.legend(loc="lower right", fontsize=8)
    return figure


STAGES.append(("Privacy budget of every member", budget_overview))
