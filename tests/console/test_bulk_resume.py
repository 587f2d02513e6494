"""A bulk replay cut short (its process killed or restarted) does not stay "running" forever:
its owner's lease runs out, it is marked interrupted with its progress kept, and an operator
resumes it (console, admin API, CLI): the items not done are replayed, each message exactly once,
even the one the stopped run had replayed without recording it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from hub.api.app import create_app
from hub.bootstrap import Hub
from hub.cli import app as cli
from hub.console import bulk
from hub.console.operations import ActionRefused, Actor
from hub.db.schema import bulk_replays
from hub.envelope import utcnow
from tests.console.conftest import csrf_of
from tests.console.seed import Seeded
from tests.console.test_bulk import finished
from tests.console.test_pages import actions, state_of
from tests.factories import create_client

ACTOR = Actor("ana")


class Killed(BaseException):
    """The process stops here (not an error the run could catch and record)."""


@dataclass
class Abandoned:
    bid: str
    ids: list[str]
    replays: Counter[str]  # message id -> how many times Ledger.replay queued it


def abandon(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> Abandoned:
    """Start a bulk replay of the portal's 9 dead messages (chunks of 2) and kill its runner just
    after the 3rd replay committed, before its outcome was written (the worst moment)."""
    monkeypatch.setattr(bulk, "CHUNK", 2)
    replays: Counter[str] = Counter()
    real_replay = hub.ledger.replay

    def counted(mid: str, *args: Any, **kwargs: Any) -> str:
        out = real_replay(mid, *args, **kwargs)
        replays[mid] += 1
        return out

    monkeypatch.setattr(hub.ledger, "replay", counted)
    bid, ids = bulk.start(hub.ledger, bulk.Selection(connector="national_portal"), ACTOR, "portal fixed")
    real_one: Callable[..., tuple[str, str | None]] = bulk._replay_one
    calls = []

    def dies_on_the_third(ledger: Any, mid: str, row: Any) -> tuple[str, str | None]:
        calls.append(mid)
        out = real_one(ledger, mid, row)
        if len(calls) == 3:
            raise Killed
        return out

    monkeypatch.setattr(bulk, "_replay_one", dies_on_the_third)
    with pytest.raises(Killed):
        bulk.run(hub.ledger, bid, ACTOR)
    monkeypatch.setattr(bulk, "_replay_one", real_one)
    return Abandoned(bid, ids, replays)


def lease_ran_out(hub: Hub, bid: str) -> None:
    """As if the lease's time had passed since the runner's last heartbeat."""
    with hub.engine.begin() as c:
        c.execute(
            update(bulk_replays)
            .where(bulk_replays.c.id == bid)
            .values(heartbeat_at=utcnow() - timedelta(seconds=bulk.LEASE_SECONDS + 1))
        )


def exactly_once(hub: Hub, run: Abandoned) -> None:
    job = bulk.status(hub.engine, run.bid)
    assert job is not None
    assert job["state"] == "finished" and job["done"] == job["total"] == 9 and job["left"] == 0
    assert job["counts"] == {"queued": 9}
    assert run.replays == Counter(run.ids)  # every message replayed, none twice
    assert all(state_of(hub, m) == "queued" for m in run.ids)


def test_killed_run_is_interrupted_then_resumed_each_message_once(
    hub: Hub, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = abandon(hub, monkeypatch)
    assert len(run.ids) == 9 and len(run.replays) == 3
    job = bulk.status(hub.engine, run.bid)
    assert job is not None and job["state"] == "running"  # within the lease: its owner may be alive
    with pytest.raises(ActionRefused, match="running"):
        bulk.resume(hub.ledger, run.bid, ACTOR, "too early")
    later = utcnow() + timedelta(seconds=bulk.LEASE_SECONDS + 1)
    job = bulk.status(hub.engine, run.bid, now=later)
    assert job is not None and job["state"] == "interrupted"
    assert job["done"] == 2 and job["left"] == 7  # the first chunk recorded; its progress kept
    assert job["counts"] == {"queued": 2, "replaying": 2, "pending": 5}
    gone = [a for a in actions(hub) if a["action"] == "bulk.interrupted"]
    assert len(gone) == 1 and gone[0]["target"] == run.bid and "2 of 9 done" in gone[0]["detail"]
    with pytest.raises(ActionRefused, match="reason"):
        bulk.resume(hub.ledger, run.bid, ACTOR, "")
    assert bulk.resume(hub.ledger, run.bid, ACTOR, "api restarted") == 7
    counts = bulk.run(hub.ledger, run.bid, ACTOR)
    assert counts["queued"] == 6  # the 3rd was found replayed already: recorded, not replayed again
    exactly_once(hub, run)
    items = {i["message_id"]: i for i in bulk.status(hub.engine, run.bid)["items"]}  # type: ignore[index]
    third = sorted(run.ids)[2]
    assert items[third]["detail"] == "replayed before the run was interrupted"
    with pytest.raises(ActionRefused, match="finished"):
        bulk.resume(hub.ledger, run.bid, ACTOR, "once more")
    done = [(a["action"], a["outcome"], a["reason"]) for a in actions(hub) if a["target"] == run.bid]
    assert done == [
        ("bulk.replay", "ok", "portal fixed"),
        ("bulk.resume", "refused", "too early"),
        ("bulk.interrupted", "error", "portal fixed"),
        ("bulk.resume", "refused", None),
        ("bulk.resume", "ok", "api restarted"),
        ("bulk.replay", "ok", "portal fixed"),
        ("bulk.resume", "refused", "once more"),
    ]


def test_resume_in_the_console(
    hub: Hub, seeded: Seeded, as_operator: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = abandon(hub, monkeypatch)
    lease_ran_out(hub, run.bid)
    page = as_operator.get("/console/failures")  # reading marks it interrupted, and lists it
    listed = page.text.split('id="bulk-unfinished"')[1].split("</section>")[0]
    assert run.bid in listed and 'data-state="interrupted"' in listed
    page = as_operator.get(f"/console/bulk/{run.bid}")
    assert 'data-state="interrupted"' in page.text and 'id="bulk-resume"' in page.text
    form = {"csrf": csrf_of(page.text), "reason": ""}
    r = as_operator.post(f"/console/bulk/{run.bid}/resume", data=form)
    assert r.status_code == 422 and 'id="error"' in r.text
    r = as_operator.post(
        f"/console/bulk/{run.bid}/resume", data=form | {"reason": "api restarted"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].endswith(f"/bulk/{run.bid}")
    finished(hub, run.bid)
    exactly_once(hub, run)
    assert 'id="bulk-unfinished"' not in as_operator.get("/console/failures").text


def test_resume_through_the_admin_api(hub: Hub, seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    key = create_client(hub.engine, "OPS", "operators", ["admin"])
    run = abandon(hub, monkeypatch)
    with TestClient(create_app(hub, pipeline=False)) as api:
        h = {"X-API-Key": key}
        r = api.post(f"/v1/admin/replays/bulk/{run.bid}/resume", json={"reason": "too early"}, headers=h)
        assert r.status_code == 409, r.text  # still running as far as anyone knows
        lease_ran_out(hub, run.bid)
        r = api.get(f"/v1/admin/replays/bulk/{run.bid}", headers=h)
        assert r.json()["state"] == "interrupted" and r.json()["left"] == 7
        r = api.post(f"/v1/admin/replays/bulk/{run.bid}/resume", json={}, headers=h)
        assert r.status_code == 422  # a reason is required
        r = api.post(f"/v1/admin/replays/bulk/{run.bid}/resume", json={"reason": "api restarted"}, headers=h)
        assert r.status_code == 202, r.text
        finished(hub, run.bid)
        r = api.post("/v1/admin/replays/bulk/01ARZ3NDEKTSV4RRFFQ69G5FAV/resume", json={"reason": "nope"}, headers=h)
        assert r.status_code == 404
    exactly_once(hub, run)


def test_resume_with_the_cli(hub: Hub, seeded: Seeded, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    run = abandon(hub, monkeypatch)
    lease_ran_out(hub, run.bid)
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    monkeypatch.setattr("hub.logging.configure", lambda *_a, **_k: None)
    real = hub.ledger.replay  # the CLI builds its own ledger: count its replays too
    from hub.ledger import Ledger

    original = Ledger.replay

    def counted(self: Ledger, mid: str, *args: Any, **kwargs: Any) -> str:
        out = original(self, mid, *args, **kwargs)
        run.replays[mid] += 1
        return out

    monkeypatch.setattr(Ledger, "replay", counted)
    del real
    r = CliRunner().invoke(cli, ["messages", "bulk-unfinished"])
    assert r.exit_code == 0, r.output
    listed = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]  # not the log lines
    assert [(x["id"], x["state"], x["done"], x["total"]) for x in listed] == [(run.bid, "interrupted", 2, 9)]
    r = CliRunner().invoke(cli, ["messages", "bulk-resume", run.bid])
    assert r.exit_code == 2  # a reason is required
    r = CliRunner().invoke(cli, ["messages", "bulk-resume", run.bid, "-r", "api restarted"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["queued"] == 6
    exactly_once(hub, run)


def test_a_message_replayed_then_dead_again_is_not_replayed_twice_on_resume(
    hub: Hub, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stopped run replayed the 3rd message without recording it; its delivery then failed
    again (dead). Its state alone cannot tell the resume it was done: its restarted budget does."""
    from hub.db.schema import messages

    run = abandon(hub, monkeypatch)
    third = sorted(run.ids)[2]
    assert run.replays[third] == 1
    with hub.engine.begin() as c:
        c.execute(update(messages).where(messages.c.id == third).values(state="dead"))
    lease_ran_out(hub, run.bid)
    bulk.resume(hub.ledger, run.bid, ACTOR, "api restarted")
    bulk.run(hub.ledger, run.bid, ACTOR)
    assert run.replays == Counter(run.ids) and state_of(hub, third) == "dead"


def test_a_live_run_renews_its_lease_and_is_never_taken_for_gone(
    hub: Hub, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replays slower than the whole lease: the heartbeat keeps the run its owner's; a sweep
    meanwhile marks nothing."""
    import threading
    import time

    monkeypatch.setattr(bulk, "LEASE_SECONDS", 0.8)
    monkeypatch.setattr(bulk, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(bulk, "CHUNK", 50)  # one chunk: only the heartbeat thread renews the lease
    real_one = bulk._replay_one

    def slow(ledger: Any, mid: str, row: Any) -> tuple[str, str | None]:
        time.sleep(0.2)
        return real_one(ledger, mid, row)

    monkeypatch.setattr(bulk, "_replay_one", slow)
    bid, ids = bulk.start(hub.ledger, bulk.Selection(connector="national_portal"), ACTOR, "slow partner")
    runner = threading.Thread(target=bulk.run, args=(hub.ledger, bid, ACTOR))
    runner.start()
    swept: list[str] = []
    while runner.is_alive():  # 9 x 0.2 s: more than twice the lease
        swept += bulk.sweep(hub.engine)
        time.sleep(0.05)
    runner.join()
    assert swept == []
    job = bulk.status(hub.engine, bid)
    assert job is not None and job["state"] == "finished" and job["counts"] == {"queued": len(ids)}


def test_a_run_taken_over_stops_without_finishing(hub: Hub, seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process resumed the run (this one was taken for gone): this one finds out when it
    next renews its lease (its next chunk, or its heartbeat) and stops, without finishing the run
    or taking more items. (A takeover needs the lease to have run out, and a run stops replaying
    once it could not renew for half the lease: the chunk in flight here is the test's shortcut.)"""
    monkeypatch.setattr(bulk, "CHUNK", 3)
    bid, _ = bulk.start(hub.ledger, bulk.Selection(connector="national_portal"), ACTOR, "portal fixed")
    real_one = bulk._replay_one
    done: list[str] = []

    def taken_over_after_two(ledger: Any, mid: str, row: Any) -> tuple[str, str | None]:
        done.append(mid)
        if len(done) == 2:
            with hub.engine.begin() as c:
                c.execute(update(bulk_replays).where(bulk_replays.c.id == bid).values(owner="elsewhere:1:x"))
        return real_one(ledger, mid, row)

    monkeypatch.setattr(bulk, "_replay_one", taken_over_after_two)
    counts = bulk.run(hub.ledger, bid, ACTOR)
    assert sum(counts.values()) == 3  # the rest of its chunk (taken before the takeover), then it stopped
    job = bulk.status(hub.engine, bid)
    assert job is not None and job["state"] == "running" and job["done"] == 3 and job["left"] == 6
