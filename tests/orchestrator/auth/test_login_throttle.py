"""Failed sign-ins: a name is locked after too many in a row (429 with Retry-After, the right
password included), unknown names alike, and an admin's unlock or a new password lifts it."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from orchestrator.auth import users
from orchestrator.auth.models import LoginThrottle
from orchestrator.db import get_engine, session_scope, utcnow
from tests.orchestrator.conftest import NOBODY, as_user

PASSWORD = "correct horse battery"
WRONG = "not the password at all"


def _login(api: TestClient, name: str, password: str) -> tuple[int, dict[str, str], str]:
    response = api.post(
        "/api/v1/auth/login", json={"name": name, "password": password}, headers=NOBODY
    )
    return response.status_code, dict(response.headers), response.json().get("detail", "")


def _kinds() -> list[str]:
    with session_scope() as session:
        return list(session.execute(text("SELECT kind FROM audit_entries ORDER BY seq")).scalars())


def _set_password(name: str) -> None:
    with Session(get_engine()) as session:
        users.set_password(session, name, PASSWORD, "test")
        session.commit()


def test_five_failures_lock_the_name_even_for_the_right_password(api: TestClient) -> None:
    _set_password("amina")
    statuses = [_login(api, "amina", WRONG)[0] for _ in range(5)]
    assert statuses == [401] * 5
    status, headers, detail = _login(api, "amina", PASSWORD)
    assert status == 429
    assert 14 * 60 < int(headers["retry-after"]) <= 15 * 60
    assert "too many failed sign-ins for 'amina'" in detail
    assert _kinds().count("auth.locked") == 1
    # other people are not affected
    _set_password("hamid")
    assert _login(api, "hamid", PASSWORD)[0] == 200


def test_an_unknown_name_locks_the_same_way_so_a_lock_reveals_nobody(api: TestClient) -> None:
    for name in ("amina", "nobody-here"):
        assert [_login(api, name, WRONG)[0] for _ in range(5)] == [401] * 5
        assert _login(api, name, WRONG)[0] == 429


def test_an_admin_unlocks_over_the_api_and_a_success_resets_the_count(api: TestClient) -> None:
    _set_password("amina")
    for _ in range(5):
        _login(api, "amina", WRONG)
    assert _login(api, "amina", PASSWORD)[0] == 429
    with Session(get_engine()) as session:
        users.add(session, "root-admin", "Root", ["admin"], "test")
        session.commit()
    unlocked = api.post("/api/v1/users/amina/unlock", headers=as_user("root-admin"))
    assert unlocked.status_code == 204
    assert "auth.unlocked" in _kinds()
    assert _login(api, "amina", PASSWORD)[0] == 200
    # four failures, a success, four more: never locked (the count restarts on success)
    for _ in range(4):
        _login(api, "amina", WRONG)
    assert _login(api, "amina", PASSWORD)[0] == 200
    assert [_login(api, "amina", WRONG)[0] for _ in range(4)] == [401] * 4
    assert _login(api, "amina", PASSWORD)[0] == 200


def test_failures_older_than_the_lock_period_are_forgotten(api: TestClient) -> None:
    _set_password("amina")
    for _ in range(4):
        _login(api, "amina", WRONG)
    with Session(get_engine()) as session:
        row = session.get(LoginThrottle, "amina")
        assert row is not None and row.failures == 4
        row.first_failed_at = utcnow() - timedelta(minutes=16)
        session.add(row)
        session.commit()
    assert _login(api, "amina", WRONG)[0] == 401  # counted as the first of a new run
    assert _login(api, "amina", PASSWORD)[0] == 200


def test_a_new_password_lifts_the_lock(api: TestClient) -> None:
    for _ in range(5):
        _login(api, "amina", WRONG)
    _set_password("amina")
    assert _login(api, "amina", PASSWORD)[0] == 200
