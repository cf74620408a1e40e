"""The web interface over HTTP, as a browser uses it: the session cookie and form posts with
their token, each role's pages, the language switch, and what a mistake in a form gives."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from orchestrator.approvals.models import Approval
from orchestrator.auth import users
from orchestrator.cases.models import Case
from orchestrator.db import get_engine, utcnow
from orchestrator.nodes import service as nodes
from orchestrator.nodes.models import Node, Schedule
from orchestrator.web.approvals import diff_of
from orchestrator.web.render import STATIC_DIR, TEMPLATES_DIR
from tests.orchestrator.conftest import as_user
from tests.orchestrator.test_approvals_api import DRAFT
from tests.orchestrator.test_approvals_api import _to_approval as to_approval

PASSWORD = "correct horse battery"
TRIAGE = "citizen-request-triage"


@pytest.fixture
def browser(api: TestClient) -> Iterator[TestClient]:
    """The app as a browser reaches it: no Authorization header, the session in a cookie."""
    with Session(get_engine()) as session:
        for name in ("amina", "youssef", "omar", "nadia", "admin"):
            users.set_password(session, name, PASSWORD, "test")
        session.commit()
    api.headers.pop("Authorization")
    yield api


def sign_in(client: TestClient, name: str, language: str = "fr") -> None:
    client.cookies.clear()
    client.headers["Accept-Language"] = language
    response = client.post("/ui/login", data={"name": name, "password": PASSWORD})
    assert response.status_code == 200, response.text


def token_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "the page has no form token"
    return found.group(1)


def case_count() -> int:
    with Session(get_engine()) as session:
        return int(session.execute(select(func.count()).select_from(Case)).scalar_one())


def test_a_browser_not_signed_in_goes_to_sign_in_then_where_it_was_going(
    browser: TestClient,
) -> None:
    away = browser.get("/ui/cases/new", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"] == "/ui/login?next=/ui/cases/new"
    signed = browser.post(
        "/ui/login",
        data={"name": "amina", "password": PASSWORD, "next": "/ui/cases/new"},
        follow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/ui/cases/new"
    assert "idara_session" in signed.headers["set-cookie"]
    assert "SameSite=strict" in signed.headers["set-cookie"]
    elsewhere = browser.post(
        "/ui/login",
        data={"name": "amina", "password": PASSWORD, "next": "https://example.org/"},
        follow_redirects=False,
    )
    assert elsewhere.headers["location"] == "/ui/"  # never sent to another site
    assert browser.get("/", follow_redirects=False).headers["location"] == "/ui/"


def test_a_wrong_password_is_said_in_the_browser_language_right_to_left_in_arabic(
    browser: TestClient,
) -> None:
    wrong = browser.post(
        "/ui/login",
        data={"name": "amina", "password": "not it"},
        headers={"Accept-Language": "ar-MA,ar;q=0.9"},
    )
    assert wrong.status_code == 401
    assert '<html lang="ar" dir="rtl">' in wrong.text
    assert "اسم المستخدم أو كلمة المرور غير صحيحة." in wrong.text
    assert 'value="amina"' in wrong.text  # the name typed is kept


@pytest.mark.parametrize(
    ("name", "home", "heading"),
    [
        ("amina", "/ui/cases", "<h1>Dossiers</h1>"),
        ("youssef", "/ui/approvals", "<h1>Validations</h1>"),
        ("omar", "/ui/audit", "<h1>Journal d'audit</h1>"),
        ("nadia", "/ui/ops", "<h1>Exploitation</h1>"),
    ],
)
def test_each_role_lands_on_its_main_page(
    browser: TestClient, name: str, home: str, heading: str
) -> None:
    sign_in(browser, name)
    landed = browser.get("/ui/")
    assert str(landed.url).endswith(home) and heading in landed.text


def test_a_page_of_another_role_is_refused_in_the_person_language(browser: TestClient) -> None:
    sign_in(browser, "nadia", "en")
    refused = browser.get("/ui/cases")
    assert refused.status_code == 403
    assert "You may not do this" in refused.text and "read_cases" in refused.text
    sign_in(browser, "admin", "en")
    assert "No page for your role" in browser.get("/ui/").text


def test_a_form_with_mistakes_says_what_to_fix_keeps_what_was_typed_and_files_nothing(
    browser: TestClient,
) -> None:
    sign_in(browser, "amina")
    form = browser.get(f"/ui/cases/new?procedure={TRIAGE}")
    assert '<label for="applicant-cin">Numéro de CIN</label>' in form.text
    typed = {
        "csrf": token_of(form.text),
        "procedure": TRIAGE,
        "idempotency": "first-try",
        "text": "Je demande un extrait d'acte de naissance.",
        "applicant.full_name": "Fatima Zahra",
        "applicant.cin": "12-bad",
    }
    wrong = browser.post("/ui/cases", data=typed)
    assert wrong.status_code == 422
    assert 'id="applicant-cin-error">Le format n&#39;est pas valide.' in wrong.text
    assert 'value="Fatima Zahra"' in wrong.text and "Je demande un extrait" in wrong.text
    assert case_count() == 0
    filed = browser.post(
        "/ui/cases", data={**typed, "applicant.cin": "AB12345"}, follow_redirects=False
    )
    assert filed.status_code == 303 and case_count() == 1
    again = browser.post("/ui/cases", data={**typed, "applicant.cin": "AB12345"})
    assert case_count() == 1  # a second click on the same form does not file twice
    case = browser.get(filed.headers["location"])
    assert case.text == again.text.replace(str(again.url), str(case.url)) or "IDR-" in case.text
    assert "En file d&#39;attente" in case.text and "Fatima Zahra" in case.text
    assert 'data-live aria-live="polite"' in case.text  # refreshes itself until the case ends


def test_a_form_without_its_token_is_refused_and_files_nothing(browser: TestClient) -> None:
    sign_in(browser, "amina")
    posted = browser.post(
        "/ui/cases", data={"procedure": TRIAGE, "text": "Bonjour", "csrf": "0" * 64}
    )
    assert posted.status_code == 403 and case_count() == 0


def test_the_language_chosen_follows_the_person_to_another_browser(browser: TestClient) -> None:
    sign_in(browser, "amina", "fr")
    switched = browser.post("/ui/language", data={"language": "ar", "next": "/ui/cases"})
    assert str(switched.url).endswith("/ui/cases") and 'dir="rtl"' in switched.text
    assert "<h1>الملفات</h1>" in switched.text
    sign_in(browser, "amina", "en")  # a new browser asking for English
    assert "<h1>الملفات</h1>" in browser.get("/ui/cases").text


def test_ops_drain_a_node_with_its_button(browser: TestClient) -> None:
    with Session(get_engine()) as session:
        nodes.register(session, nodes.Registration("node-x", models=["smollm2-135m"]))
        session.commit()
    sign_in(browser, "nadia", "en")
    page = browser.get("/ui/ops")
    assert '<th scope="row" dir="ltr">node-x</th>' in page.text and "Ready" in page.text
    assert 'aria-label="Drain node-x"' in page.text
    drained = browser.post("/ui/ops/nodes/node-x/drain", data={"csrf": token_of(page.text)})
    assert drained.status_code == 200 and "Drained" in drained.text
    with Session(get_engine()) as session:
        node = session.get(Node, "node-x")
        assert node is not None and node.schedule == Schedule.draining
    assert 'aria-label="Drain node-x"' not in drained.text  # no second drain offered


def test_an_auditor_finds_a_case_events_and_verifies_the_chain(
    browser: TestClient, api: TestClient
) -> None:
    sign_in(browser, "amina")
    form = browser.get(f"/ui/cases/new?procedure={TRIAGE}")
    data = {"csrf": token_of(form.text), "procedure": TRIAGE, "text": "Bonjour, un extrait."}
    reference = re.search(r"IDR-[0-9A-Z-]+", browser.post("/ui/cases", data=data).text)
    assert reference
    sign_in(browser, "omar", "en")
    found = browser.get(f"/ui/audit?case={reference.group()}")
    assert found.status_code == 200 and ">case.created</td>" in found.text
    timeline = browser.get(f"/ui/audit/cases/{reference.group()}")
    assert "case.created" in timeline.text and reference.group() in timeline.text
    checked = browser.post("/ui/audit/verify", data={"csrf": token_of(found.text)})
    assert 'id="verify-result">' in checked.text and "Verified" in checked.text
    unknown = browser.get("/ui/audit?case=<b>IDR-nope")
    assert unknown.status_code == 422 and "no case" in unknown.text
    assert "<b>IDR" not in unknown.text and "&lt;b&gt;IDR-nope" in unknown.text


def test_the_draft_change_is_shown_word_by_word_line_breaks_kept() -> None:
    assert diff_of("Nous avons reçu\nvotre demande.", "Nous avons bien reçu\nvotre requête.") == [
        ("same", "Nous avons"),
        ("added", " bien"),
        ("same", " reçu\nvotre "),
        ("removed", "demande."),
        ("added", "requête."),
    ]


def test_pages_load_nothing_from_another_host(browser: TestClient) -> None:
    page = browser.get("/ui/login")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    for path in [*TEMPLATES_DIR.glob("*.html"), *Path(STATIC_DIR).glob("*")]:
        assert not re.search(r"https?://|//[a-z]", path.read_text(encoding="utf-8")), path
    assert browser.get("/ui/static/idara.css").status_code == 200


def _at_approval(api: TestClient) -> tuple[str, str]:
    """A case brought to its approval as the engine does (test_approvals_api's way)."""
    api.headers["Authorization"] = as_user("amina")["Authorization"]
    try:
        return to_approval(api)
    finally:
        api.headers.pop("Authorization")


def test_a_supervisor_sees_what_is_overdue_and_must_give_a_reason_to_reject(
    browser: TestClient,
) -> None:
    case_id, approval_id = _at_approval(browser)
    with Session(get_engine()) as session:
        approval = session.get(Approval, approval_id)
        assert approval is not None
        approval.due_at = utcnow() - timedelta(hours=1)
        session.add(approval)
        session.commit()
    sign_in(browser, "youssef")
    inbox = browser.get("/ui/approvals")
    assert '<tr class="overdue">' in inbox.text and "En retard" in inbox.text
    page = browser.get(f"/ui/approvals/{approval_id}")
    decision = {"csrf": token_of(page.text), "action": "reject", "reason": "  "}
    unexplained = browser.post(f"/ui/approvals/{approval_id}", data=decision)
    assert unexplained.status_code == 422 and "Un refus doit être motivé." in unexplained.text
    with Session(get_engine()) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.status == "awaiting_approval"
    rambling = browser.post(f"/ui/approvals/{approval_id}", data={**decision, "reason": "x" * 2001})
    assert rambling.status_code == 422 and "2 000 caractères au plus" in rambling.text
    assert "x" * 2001 in rambling.text  # what was typed is kept
    rejected = browser.post(
        f"/ui/approvals/{approval_id}", data={**decision, "reason": "Pièces manquantes"}
    )
    assert "Refusé" in rejected.text and "Pièces manquantes" in rejected.text
    with Session(get_engine()) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.status == "rejected"


def test_a_correction_typed_in_a_browser_shows_only_what_changed(browser: TestClient) -> None:
    _, approval_id = _at_approval(browser)
    sign_in(browser, "youssef", "en")
    page = browser.get(f"/ui/approvals/{approval_id}")
    typed = "Madame,\r\n\r\nNous avons bien reçu votre demande."  # a textarea posts CRLF
    form = {"csrf": token_of(page.text), "edit.letter": typed, "edit.subject": DRAFT["subject"]}
    preview = browser.post(f"/ui/approvals/{approval_id}", data={**form, "action": "preview"})
    assert re.findall(r"<(ins|del)>([^<]*)</", preview.text) == [("ins", "bien ")]
    approved_as_is = browser.post(
        f"/ui/approvals/{approval_id}", data={**form, "action": "approve"}
    )
    assert approved_as_is.status_code == 422  # the change would have been lost
    assert "You changed the draft" in approved_as_is.text
    edited = browser.post(f"/ui/approvals/{approval_id}", data={**form, "action": "edit"})
    assert "Edited and approved" in edited.text
    assert re.findall(r"<(ins|del)>([^<]*)</", edited.text) == [("ins", "bien ")]


def test_a_clerk_cancels_a_case_with_a_reason_and_a_second_cancel_is_refused(
    browser: TestClient,
) -> None:
    sign_in(browser, "amina")
    form = browser.get(f"/ui/cases/new?procedure={TRIAGE}")
    data = {"csrf": token_of(form.text), "procedure": TRIAGE, "text": "Bonjour, un extrait."}
    case = browser.post("/ui/cases", data=data)
    assert "Annuler le dossier" in case.text
    case_id = str(case.url).rsplit("/", 1)[-1]
    done = browser.post(
        f"/ui/cases/{case_id}/cancel", data={"csrf": data["csrf"], "reason": "doublon"}
    )
    assert str(done.url).endswith(case_id) and "Annulé" in done.text
    assert "Annuler le dossier" not in done.text
    again = browser.post(f"/ui/cases/{case_id}/cancel", data={"csrf": data["csrf"]})
    assert again.status_code == 409 and "C&#39;est déjà fait" in again.text


def test_a_bad_address_gets_a_page_that_says_what_is_wrong(browser: TestClient) -> None:
    sign_in(browser, "amina", "en")
    wrong = browser.get("/ui/cases?offset=-1")
    assert wrong.status_code == 422 and wrong.headers["content-type"].startswith("text/html")
    assert "Please correct the form" in wrong.text and "offset" in wrong.text
    missing = browser.get("/ui/cases/IDR-20000101-00000000")
    assert missing.status_code == 404 and "Not found" in missing.text
