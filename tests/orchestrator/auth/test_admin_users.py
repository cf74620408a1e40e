"""An admin manages people over the API: add, change, disable, enable, passwords, tokens;
every change is audited under the admin's name, and an admin cannot lock themselves out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from orchestrator.auth import users
from orchestrator.db import get_engine, session_scope
from tests.orchestrator.conftest import NOBODY, as_user


@pytest.fixture
def admin(api: TestClient) -> Iterator[dict[str, str]]:
    with Session(get_engine()) as session:
        users.add(session, "root-admin", "Root", ["admin"], "test")
        session.commit()
    yield as_user("root-admin")


def _audit(kind: str) -> list[tuple[str, str]]:
    with session_scope() as session:
        rows = session.execute(
            text("SELECT actor, data FROM audit_entries WHERE kind = :k ORDER BY seq"), {"k": kind}
        ).all()
    return [(row[0], str(row[1])) for row in rows]


def test_an_admin_adds_a_clerk_who_then_signs_in_and_files(
    api: TestClient, admin: dict[str, str]
) -> None:
    new = {
        "name": "fatima",
        "display_name": "Fatima Z.",
        "roles": ["clerk"],
        "unit": "rabat-reception",
        "password": "a long enough password",
    }
    created = api.post("/api/v1/users", json=new, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["password_set"] is True and "password" not in created.json()
    assert api.post("/api/v1/users", json=new, headers=admin).status_code == 409
    signed_in = api.post(
        "/api/v1/auth/login",
        json={"name": "fatima", "password": new["password"]},
        headers=NOBODY,
    )
    assert signed_in.status_code == 200
    listed = {u["name"]: u for u in api.get("/api/v1/users", headers=admin).json()}
    assert listed["fatima"]["unit"] == "rabat-reception"
    assert _audit("user.added")[-1][0] == "root-admin"


@pytest.mark.parametrize(
    ("body", "fix"),
    [
        ({"name": "Bad Name", "roles": ["clerk"]}, "is not a user name"),
        ({"name": "x1", "roles": ["king"]}, "roles must be among"),
        ({"name": "x2", "roles": ["clerk"], "password": "short"}, "12 characters"),
        ({"name": "x3", "roles": []}, "roles"),
    ],
)
def test_bad_users_are_refused_with_what_to_fix(
    api: TestClient, admin: dict[str, str], body: dict[str, object], fix: str
) -> None:
    response = api.post("/api/v1/users", json=body, headers=admin)
    assert response.status_code == 422
    assert fix in response.text
    assert [u["name"] for u in api.get("/api/v1/users", headers=admin).json()].count(
        body["name"]
    ) == 0


def test_changing_roles_and_unit_moves_what_a_clerk_sees(
    api: TestClient, admin: dict[str, str]
) -> None:
    case_id = api.post(
        "/api/v1/cases",
        json={"procedure": "citizen-request-triage", "text": "Bonjour.", "language": "fr"},
    ).json()["id"]
    hamid = as_user("hamid")  # a clerk of casablanca-reception
    assert api.get(f"/api/v1/cases/{case_id}", headers=hamid).status_code == 404
    changed = api.patch("/api/v1/users/hamid", json={"unit": "rabat-reception"}, headers=admin)
    assert changed.status_code == 200 and changed.json()["unit"] == "rabat-reception"
    assert api.get(f"/api/v1/cases/{case_id}", headers=hamid).status_code == 200
    assert "rabat-reception" in _audit("user.updated")[-1][1]
    to_auditor = api.patch("/api/v1/users/hamid", json={"roles": ["auditor"]}, headers=admin)
    assert to_auditor.json()["roles"] == ["auditor"]
    assert api.post("/api/v1/cases", json={}, headers=hamid).status_code == 403
    unknown = api.patch("/api/v1/users/nobody", json={"unit": "x"}, headers=admin)
    assert unknown.status_code == 404


def test_disable_enable_and_tokens(api: TestClient, admin: dict[str, str]) -> None:
    made = api.post("/api/v1/users/hamid/tokens", json={"label": "desk", "days": 7}, headers=admin)
    assert made.status_code == 201
    token = {"Authorization": f"Bearer {made.json()['token']}"}
    assert api.get("/api/v1/auth/me", headers=token).json()["name"] == "hamid"
    listed = api.get("/api/v1/users/hamid/tokens", headers=admin).json()
    assert [t["label"] for t in listed if t["id"] == made.json()["id"]] == ["desk"]
    assert all("token" not in t for t in listed)
    assert api.post("/api/v1/users/hamid/disable", headers=admin).json()["disabled"] is True
    assert api.get("/api/v1/auth/me", headers=token).status_code == 401
    assert api.post("/api/v1/users/hamid/enable", headers=admin).json()["disabled"] is False
    assert api.get("/api/v1/auth/me", headers=token).status_code == 200
    revoked = api.delete(f"/api/v1/tokens/{made.json()['id']}", headers=admin)
    assert revoked.json()["revoked"] is True
    assert api.get("/api/v1/auth/me", headers=token).status_code == 401
    assert [actor for actor, _ in _audit("token.revoked")] == ["root-admin"]


def test_an_admin_cannot_lock_themselves_out(api: TestClient, admin: dict[str, str]) -> None:
    assert api.post("/api/v1/users/root-admin/disable", headers=admin).status_code == 409
    dropped = api.patch("/api/v1/users/root-admin", json={"roles": ["clerk"]}, headers=admin)
    assert dropped.status_code == 409
    assert "your own admin role" in dropped.json()["detail"]
    assert api.get("/api/v1/users", headers=admin).status_code == 200


def test_password_set_by_an_admin_works_and_weak_ones_are_refused(
    api: TestClient, admin: dict[str, str]
) -> None:
    weak = api.put("/api/v1/users/amina/password", json={"password": "short"}, headers=admin)
    assert weak.status_code == 422
    good = api.put(
        "/api/v1/users/amina/password", json={"password": "a long enough password"}, headers=admin
    )
    assert good.status_code == 204
    signed_in = api.post(
        "/api/v1/auth/login",
        json={"name": "amina", "password": "a long enough password"},
        headers=NOBODY,
    )
    assert signed_in.status_code == 200
