"""The chain in a real database: appends from many threads stay one unbroken chain, the
append-only tables refuse changes, and retention deletes payloads without breaking the chain."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from agents.signed_note import open_note, parse_checkpoint, parse_verifier_key
from orchestrator.audit import chain, checkpoints, merkle, payloads
from orchestrator.audit.format import ZERO_HASH, entry_hash
from orchestrator.audit.models import AuditEntry
from orchestrator.db import make_engine, migrate, utcnow
from orchestrator.settings import Settings


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    migrate(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _entries(engine) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return list(session.exec(select(AuditEntry).order_by(col(AuditEntry.seq))))


def test_concurrent_appends_form_one_unbroken_chain(engine) -> None:  # type: ignore[no-untyped-def]
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            for n in range(15):
                with Session(engine) as session:
                    chain.record(session, "test.event", f"worker-{worker}", {"n": n})
                    session.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = _entries(engine)
    assert [row.seq for row in rows] == list(range(1, 91))
    previous = ZERO_HASH
    for row in rows:
        assert row.prev_hash == previous
        assert entry_hash(row.canonical()) == row.entry_hash
        previous = row.entry_hash
    with Session(engine) as session:
        assert chain.size(session) == 90


def test_a_rolled_back_transaction_leaves_no_entry_and_no_gap(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        chain.record(session, "test.kept", "a")
        session.commit()
        chain.record(session, "test.dropped", "a")
        session.rollback()
        chain.record(session, "test.kept", "a")
        session.commit()
    assert [(row.seq, row.kind) for row in _entries(engine)] == [
        (1, "test.kept"),
        (2, "test.kept"),
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET actor = 'someone-else' WHERE seq = 1",
        "DELETE FROM audit_entries WHERE seq = 1",
        "UPDATE audit_checkpoints SET root_hash = 'x'",
        "DELETE FROM audit_checkpoints",
    ],
)
def test_the_database_refuses_to_change_the_log(engine, tmp_path: Path, statement: str) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path)
    with Session(engine) as session:
        chain.record(session, "test.event", "a")
        session.commit()
        assert checkpoints.create(session, settings) is not None
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement))
    assert len(_entries(engine)) == 2  # the event and the key's creation


def test_a_checkpoint_signs_the_merkle_root_of_every_entry(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, audit_origin="rabat.example.ma/audit")
    with Session(engine) as session:
        for n in range(5):
            chain.record(session, "test.event", "a", {"n": n})
        session.commit()
        made = checkpoints.create(session, settings)
        assert made is not None
        assert checkpoints.create(session, settings) is None  # nothing new to sign
        keys = [
            parse_verifier_key(k)
            for k in session.exec(text("SELECT verifier FROM audit_keys")).scalars()
        ]  # type: ignore[call-overload]
    rows = _entries(engine)
    assert made.tree_size == len(rows) == 6  # 5 events + the key's creation entry
    body, _ = open_note(made.note, keys)
    signed = parse_checkpoint(body)
    assert signed.origin == "rabat.example.ma/audit"
    assert signed.size == 6
    assert signed.root == merkle.root([bytes.fromhex(r.entry_hash) for r in rows])
    assert (tmp_path / "keys" / "audit.key").stat().st_mode & 0o777 == 0o600


def test_checkpoints_are_due_by_count_or_by_age(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, audit_checkpoint_entries=3, audit_checkpoint_s=60)
    with Session(engine) as session:
        chain.record(session, "test.event", "a")
        session.commit()
        assert not checkpoints.due(session, settings, utcnow())
        assert checkpoints.due(session, settings, utcnow() + timedelta(seconds=61))
        for _ in range(2):
            chain.record(session, "test.event", "a")
        session.commit()
        assert checkpoints.due(session, settings, utcnow())


def test_retention_deletes_payloads_and_the_chain_still_verifies(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        digest = payloads.store(session, "request", {"text": "CIN AB123456"}, None, 30)
        chain.record(session, "case.created", "amina", {"request_sha256": digest})
        session.commit()
        assert payloads.purge_expired(session, "system", utcnow() + timedelta(days=29)) == 0
        assert payloads.fetch_many(session, {digest}) == {digest: {"text": "CIN AB123456"}}
        assert payloads.purge_expired(session, "system", utcnow() + timedelta(days=31)) == 1
        assert payloads.fetch_many(session, {digest}) == {}
    rows = _entries(engine)
    assert [row.kind for row in rows] == ["case.created", "audit.payloads_purged"]
    assert rows[1].data["deleted"] == 1
    assert all(entry_hash(row.canonical()) == row.entry_hash for row in rows)
