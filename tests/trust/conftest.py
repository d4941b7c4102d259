"""A federation on a real medallion 3.0.0 server (127.0.0.1): members a, b, c (honest) and m (malicious).

The local organisation pulling is member-c. Collections: 'shared' (everyone may publish) and 'restricted' (a, b,
c only; m may not). TAXII accounts: orgA, orgB, orgC, orgM (medallion has no per-user rights: the roster is what
keeps m out of 'restricted').
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from connectors.job import RunSummary, SyncJob
from connectors.state import SyncState
from legion_misp.demo.attacks import SimMember, build_roster, serialise
from legion_misp.stores import MemoryEventStore
from legion_misp.trust import Roster, TrustPolicy, TrustSettings
from tests.support.servers import MedallionServer
from tests.sync.conftest import collection_for, settings_for
from tests.sync.helpers import post_raw

PASSWORDS = {"orgA": "orgA-pass", "orgB": "orgB-pass", "orgC": "orgC-pass", "orgM": "orgM-pass"}
ACCOUNT = {"a": "orgA", "b": "orgB", "c": "orgC", "m": "orgM"}
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _passwords(monkeypatch):
    for user, password in PASSWORDS.items():
        monkeypatch.setenv(f"TEST_TAXII_{user.upper()}", password)


@pytest.fixture(scope="session")
def members() -> dict[str, SimMember]:
    names = {"a": "member-a", "b": "member-b", "c": "member-c", "m": "member-m", "x": "member-x",
             "c_old": "member-c"}
    return {k: SimMember(v) for k, v in names.items()}


@dataclass
class Clock:
    now: dt.datetime = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@dataclass
class Federation:
    """The server, the roster and helpers to publish, post and pull."""

    tmp: Path
    server: MedallionServer
    members: dict[str, SimMember]
    roster: Roster
    clock: Clock = field(default_factory=Clock)
    local: MemoryEventStore = field(default_factory=MemoryEventStore)

    @property
    def api_root(self) -> str:
        return self.server.info.api_root

    def collection(self, title: str) -> str:
        return self.server.info.collections[title]

    def publish(self, who: str, events: list[dict], title: str = "shared") -> RunSummary:
        """An honest member publishes MISP events through the real signing sync path."""
        job = SyncJob(settings_for(self.tmp, f"pub-{who}"),
                      [collection_for(self.api_root, self.collection(title), ACCOUNT[who], direction="push")],
                      store=MemoryEventStore(events), no_sanitize=True, signer=self.members[who].signer)
        summary = job.push()
        assert summary.ok, summary.format()
        return summary

    def post(self, objects: list[dict], title: str = "shared", who: str = "m") -> None:
        """Post hand-made objects straight to the server (a compromised member's client)."""
        body = b'{"objects":[' + b",".join(serialise(objects)) + b"]}"
        answer = post_raw(self.api_root, self.collection(title), ACCOUNT[who], PASSWORDS[ACCOUNT[who]], [],
                          body=body)
        assert answer.status_code == 202, answer.text
        assert answer.json()["success_count"] == len(objects), answer.text

    def policy(self, **settings) -> TrustPolicy:
        values = {"pseudonym": "member-c", "corroboration_f": 1, "corroboration_window": 30 * 86400.0}
        values.update(settings)
        return TrustPolicy(self.roster, TrustSettings(**values), clock=self.clock)

    def pull(self, titles: tuple[str, ...] = ("shared",), *, policy: TrustPolicy | None = None) -> RunSummary:
        """member-c pulls with verification and corroboration into ``self.local``."""
        job = SyncJob(settings_for(self.tmp, "puller"),
                      [collection_for(self.api_root, self.collection(t), "orgC", direction="pull") for t in titles],
                      store=self.local, trust=policy or self.policy())
        return job.pull()

    def quarantine(self) -> list:
        with SyncState(self.tmp / "puller-state.sqlite") as state:
            return state.quarantined()


@pytest.fixture
def federation(tmp_path, members) -> Federation:
    server = MedallionServer(tmp_path / "medallion", users=PASSWORDS,
                             collections={"shared": {}, "restricted": {}}, max_page_size=100)
    server.start()
    ids = server.info.collections
    roster = build_roster(
        {k: members[k] for k in ("a", "b", "c", "m")},
        {"a": [ids["shared"], ids["restricted"]], "b": [ids["shared"], ids["restricted"]],
         "c": [ids["shared"], ids["restricted"]], "m": [ids["shared"]]},
        revoked={"c": [(members["c_old"], T0 - dt.timedelta(days=1))]})
    yield Federation(tmp=tmp_path, server=server, members=dict(members), roster=roster)
    server.stop()
