"""Sign-in with argon2 passwords, sessions, API tokens, revocation and disabling; what the
audit log records of it, and that no password or token reaches it or a log line."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from orchestrator.auth import log_masking, tokens, users
from orchestrator.auth.models import User
from orchestrator.db import get_engine, session_scope
from orchestrator.errors import InvalidInput
from tests.orchestrator.conftest import NOBODY

PASSWORD = "correct horse battery"


def _with_password(name: str = "amina") -> None:
    with Session(get_engine()) as session:
        users.set_password(session, name, PASSWORD, "test")
        session.commit()


def _login(api: TestClient, name: str, password: str) -> tuple[int, dict[str, str]]:
    response = api.post("/api/v1/auth/login", json={"name": name, "password": password})
    return response.status_code, response.json()


def _audit_text() -> str:
    with session_scope() as session:
        rows = session.execute(text("SELECT kind, actor, data FROM audit_entries")).all()
    return "\n".join(str(row) for row in rows)


def test_sign_in_with_a_password_then_use_the_session_then_sign_out(
    api: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _with_password()
    wrong = api.post("/api/v1/auth/login", json={"name": "amina", "password": "not it at all"})
    nobody = api.post("/api/v1/auth/login", json={"name": "nobody", "password": PASSWORD})
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json() == nobody.json() == {"detail": "wrong user name or password"}
    status, opened = _login(api, "amina", PASSWORD)
    assert status == 200 and opened["user"] == "amina"
    bearer = {"Authorization": f"Bearer {opened['token']}"}
    me = api.get("/api/v1/auth/me", headers=bearer).json()
    assert me == {
        "name": "amina",
        "display_name": "Amina Benali",
        "roles": ["clerk"],
        "groups": [],
        "unit": "rabat-reception",
    }
    assert api.get("/api/v1/auth/me", headers=NOBODY).json()["name"] == "amina"  # the cookie
    assert api.post("/api/v1/auth/logout", headers=bearer).status_code == 204
    after = api.get("/api/v1/auth/me", headers=bearer)
    assert after.status_code == 401 and after.headers["WWW-Authenticate"] == "Bearer"
    kinds = _audit_text()
    assert "auth.login_failed" in kinds and "'auth.login'" in kinds and "auth.logout" in kinds
    for secret in (PASSWORD, opened["token"], "not it at all"):
        assert secret not in kinds
        assert secret not in caplog.text


def test_revoked_tokens_disabled_users_and_expired_sessions_get_401(api: TestClient) -> None:
    with Session(get_engine()) as session:
        row, token = users.create_token(session, "hamid", "scanner", "test")
        user = session.get(User, "hamid")
        assert user is not None
        _, expired = tokens.issue(session, user, tokens.SESSION, ttl=timedelta(seconds=-1))
        token_id = row.id
        session.commit()
    hamid = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/auth/me", headers=hamid).status_code == 200
    stale = {"Authorization": f"Bearer {expired}"}
    assert api.get("/api/v1/auth/me", headers=stale).status_code == 401
    with Session(get_engine()) as session:
        users.revoke_token(session, token_id, "test")
        session.commit()
    assert api.get("/api/v1/auth/me", headers=hamid).status_code == 401
    assert api.get("/api/v1/cases").status_code == 200  # amina, until she is disabled
    with Session(get_engine()) as session:
        users.disable(session, "amina", "test")
        session.commit()
    assert api.get("/api/v1/cases").status_code == 401
    _with_password("youssef")
    with Session(get_engine()) as session:
        users.disable(session, "youssef", "test")
        session.commit()
    assert _login(api, "youssef", PASSWORD)[0] == 401


def test_passwords_are_argon2id_and_weak_ones_are_refused(api: TestClient) -> None:
    _with_password()
    with Session(get_engine()) as session:
        user = session.get(User, "amina")
        assert user is not None and user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        with pytest.raises(InvalidInput, match="at least 12 characters"):
            users.set_password(session, "amina", "short", "test")
        with pytest.raises(InvalidInput, match="not a user name"):
            users.add(session, "Bad Name", "x", ["clerk"], "test")
        with pytest.raises(InvalidInput, match="roles must be among"):
            users.add(session, "someone", "x", ["root"], "test")


def test_a_token_or_password_written_to_a_log_comes_out_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log_masking.install()
    token = "idara_0123456789ab_" + "A" * 43
    caplog.set_level(logging.INFO)
    log = logging.getLogger("some.library")
    log.info("calling with %s", {"Authorization": f"Bearer {token}"})
    log.info("connecting to postgresql://idara:s3cr3t-pw@db.internal/idara")
    log.info("login body: password=%s", "hunter2-hunter2")
    assert token not in caplog.text and "s3cr3t-pw" not in caplog.text
    assert "hunter2" not in caplog.text
    assert "Bearer [token]" in caplog.text and "[hidden]@db.internal" in caplog.text
