"""The bad-input corpus (issue 9, item 5), over HTTP on SQLite and PostgreSQL.

Every refused input gets a 4xx whose message says what to fix, and leaves no case, step,
audit entry or payload behind. Odd but legitimate text (right-to-left marks, zero-width
joiners, template-, SQL- and JNDI-looking strings) is accepted and stored exactly as sent:
nothing is evaluated, neither on filing nor in the prompt a model will be given.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from agents.prompts import delimit_citizen_text, load_prompt
from orchestrator.db import session_scope
from tests.orchestrator.test_approvals_api import YOUSSEF, _to_approval

CASES = "/api/v1/cases"
TRIAGE = "citizen-request-triage"
TRIAGE_STEPS = 5
JSON = {"Content-Type": "application/json"}
TABLES = ("cases", "case_steps", "audit_entries", "audit_payloads", "approvals")
BODY_LIMIT = 256 * 1024  # Settings.max_body_bytes
TEXT_LIMIT = 500  # IDARA_MAX_REQUEST_CHARS in the api fixture
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


def _json(ascii_only: bool = False, **fields: Any) -> bytes:
    """A filing body; ``ascii_only`` sends \\u escapes (the only way to send a lone surrogate)."""
    body: dict[str, Any] = {"procedure": TRIAGE, "text": "Je demande un extrait.", "language": "fr"}
    body.update(fields)
    return json.dumps(body, ensure_ascii=ascii_only).encode("utf-8")


def _counts() -> dict[str, int]:
    with session_scope() as session:
        return {
            table: int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in TABLES
        }


def _messages(response: Any) -> str:
    """Every message of an error response, each with where it points (``body.text``): a
    validation error lists them in ``detail``, a domain error has a ``detail`` and ``errors``."""
    body = response.json()
    detail = body["detail"]
    errors = detail if isinstance(detail, list) else body.get("errors", [])
    located = [f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in errors]
    return " | ".join([detail] * isinstance(detail, str) + located)


def _streamed(size: int) -> Iterator[bytes]:
    """A body without Content-Length (chunked): only the streamed count can stop it."""
    sent = 0
    while sent < size:
        sent += 16 * 1024
        yield b" " * 16 * 1024


REFUSED = [
    # --- not JSON at all, or not a JSON object ---
    pytest.param(b'{"procedure": "x", "text": ', JSON, 422, "not valid JSON", id="malformed"),
    pytest.param(
        b'{"procedure": "citizen-request-triage", "text": "Je demande',
        JSON,
        422,
        "not valid JSON: Unterminated string starting at character 48",
        id="truncated",
    ),
    pytest.param(_json() + b" trailing", JSON, 422, "not valid JSON: Extra data", id="extra-data"),
    pytest.param(b"", JSON, 422, "the body is empty", id="empty-body"),
    pytest.param(b"null", JSON, 422, "the body is empty", id="json-null"),
    pytest.param(b"[1, 2]", JSON, 422, "must be a JSON object", id="json-array"),
    pytest.param(b'"a request"', JSON, 422, "must be a JSON object", id="json-string"),
    pytest.param(b"[" * 100_000, JSON, 400, "nested too deeply", id="deeply-nested"),
    pytest.param(
        _json().replace(b"un extrait", b"un \xff\xfe\xc3("),
        JSON,
        400,
        "not valid UTF-8 (byte 0xff",
        id="invalid-utf8",
    ),
    pytest.param(PNG, JSON, 400, "not valid UTF-8 (byte 0x89 at position 0)", id="png-as-json"),
    pytest.param(PNG, {"Content-Type": "image/png"}, 415, "application/json", id="png"),
    pytest.param(_json(), {"Content-Type": "text/plain"}, 415, "(got text/plain)", id="text-plain"),
    pytest.param(
        _json(),
        {"Content-Type": "application/x-www-form-urlencoded"},
        415,
        "Content-Type: application/json",
        id="form-encoded",
    ),
    # --- wrong types ---
    pytest.param(_json(text=42), JSON, 422, "body.text: Input should be a valid string", id="num"),
    pytest.param(_json(text=["a"]), JSON, 422, "body.text: Input should be a valid str", id="list"),
    pytest.param(_json(text={"a": 1}), JSON, 422, "body.text: Input should be a valid", id="obj"),
    pytest.param(_json(text=None), JSON, 422, "body.text: Input should be a valid", id="null"),
    pytest.param(
        _json().replace(b'"Je demande un extrait."', b"NaN"),
        JSON,
        422,
        "body.text: Input should be a valid string",
        id="text-NaN",
    ),
    pytest.param(_json(procedure=7), JSON, 422, "body.procedure: Input should be", id="proc-num"),
    pytest.param(_json(language="de"), JSON, 422, "body.language: Input should be 'fr'", id="de"),
    pytest.param(_json(applicant=["x"]), JSON, 422, "body.applicant: Input should be", id="app"),
    pytest.param(_json(priority="vip"), JSON, 422, "body.priority: Extra inputs", id="extra"),
    # --- too big ---
    pytest.param(
        _json(text="a" * 2_000_000), JSON, 413, f"the limit is {BODY_LIMIT}", id="2MB-body"
    ),
    pytest.param(
        _json(text="b" * 200_000),
        JSON,
        413,
        f"has 200000 characters; the limit is {TEXT_LIMIT}",
        id="200KB-word",
    ),
    # --- text that is not text ---
    pytest.param(
        _json(text="a\x00b"), JSON, 422, "control character U+0000 at position 1", id="NUL"
    ),
    pytest.param(
        _json(text="x\x1b[31m"), JSON, 422, "control character U+001B at position 1", id="ESC"
    ),
    pytest.param(
        _json(text="ab\ufffe"), JSON, 422, "a noncharacter U+FFFE at position 2", id="U+FFFE"
    ),
    pytest.param(
        _json(True, text="a\ud800b"),
        JSON,
        422,
        "body.text: Value error, the request text contains an unpaired surrogate U+D800",
        id="lone-surrogate",
    ),
    pytest.param(
        _json(applicant={"full_name": "Amina\x07"}),
        JSON,
        422,
        "applicant.full_name contains a control character U+0007 at position 5",
        id="applicant-BEL",
    ),
    pytest.param(
        _json(True, applicant={"full_name": "Amina", "\udc00": "x"}),
        JSON,
        422,
        "an applicant field name contains an unpaired surrogate U+DC00",
        id="applicant-key-surrogate",
    ),
    pytest.param(
        _json(procedure=f"{TRIAGE}\x00"), JSON, 422, "procedure name contains", id="proc-NUL"
    ),
    pytest.param(_json(text=" \t\r\n "), JSON, 422, "the request text is empty", id="blank"),
    pytest.param(
        _json(applicant={"cin": "A1';--"}),
        JSON,
        422,
        "body.applicant.cin: National ID number (CIN) has an invalid format",
        id="applicant-sql",
    ),
]


@pytest.mark.parametrize(("content", "headers", "status", "message"), REFUSED)
def test_refused_input_gets_a_4xx_saying_what_to_fix_and_stores_nothing(
    api: TestClient, content: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    before = _counts()
    response = api.post(CASES, content=content, headers=headers)
    assert response.status_code == status, response.text
    assert message in _messages(response)
    assert _counts() == before


def test_a_streamed_body_is_cut_off_at_the_limit(api: TestClient) -> None:
    before = _counts()
    response = api.post(CASES, content=_streamed(2 * BODY_LIMIT), headers=JSON)
    assert response.status_code == 413
    assert response.json()["detail"] == (
        f"the request body is over {BODY_LIMIT} bytes; the limit is {BODY_LIMIT}"
    )
    assert response.headers["Connection"] == "close"
    assert _counts() == before


def test_an_oversized_idempotency_key_is_refused(api: TestClient) -> None:
    before = _counts()
    response = api.post(CASES, content=_json(), headers={**JSON, "Idempotency-Key": "k" * 201})
    assert response.status_code == 422
    assert "header.idempotency-key: String should have at most 200" in _messages(response)
    assert _counts() == before


ACCEPTED = [
    pytest.param("{{ 7*7 }}", id="jinja-expression"),
    pytest.param("{% raw %}{{ config.items() }}{% endraw %} {# note #}", id="jinja-blocks"),
    pytest.param("'; DROP TABLE cases; --", id="sql"),
    pytest.param('Robert"); DELETE FROM audit_entries WHERE ("1"="1', id="sql-quotes"),
    pytest.param("${jndi:ldap://x}", id="jndi"),
    pytest.param("$language ${request} $applicant__cin $$ {0.__class__} %s %(x)s", id="formats"),
    pytest.param("<script>alert(1)</script> &amp; <citizen_request>", id="markup"),
    pytest.param(
        "السلام عليكم، أطلب شهادة السكنى pour mon fils Youssef, né le 12/03/2015 à Fès.",
        id="arabic-french",
    ),
    # Arabic and Persian letters beside the marks they take, not look-alikes of Latin ones
    pytest.param("\u200fمرحبا\u200e Bonjour \u061cنعم\u061c fin", id="bidi-marks"),
    pytest.param("abc\u202edef\u202c et \u2067اسم\u2069", id="RLO-and-isolates"),
    pytest.param("می\u200cخواهم \u0644\u200d\u0627 x\u200by", id="ZWNJ-ZWJ-ZWSP"),
    pytest.param(
        "e\u0301te\u0301 😀 👨\u200d👩\u200d👧 \U0001f1f2\U0001f1e6", id="combining-emoji"
    ),
    pytest.param("ligne 1\r\nligne 2\n\tfin\r", id="tabs-and-line-breaks"),
    pytest.param('C:\\dossier\\"x" \\u0000 \\n \\x00', id="backslashes"),
    pytest.param("Anticonstitutionnellement" * 16, id="long-word-within-limit"),
    pytest.param("x" * TEXT_LIMIT, id="word-at-the-limit"),
]


@pytest.mark.parametrize("request_text", ACCEPTED)
def test_odd_but_legitimate_text_is_stored_exactly_and_never_evaluated(
    api: TestClient, request_text: str
) -> None:
    before = _counts()
    applicant = {"full_name": "Amina\u200c {{ 7*7 }}"}
    response = api.post(CASES, content=_json(text=request_text, applicant=applicant), headers=JSON)
    assert response.status_code == 201, response.text
    case = api.get(f"{CASES}/{response.json()['id']}").json()
    assert case["request_text"] == request_text
    assert case["applicant"] == applicant
    after = _counts()
    assert after["cases"] == before["cases"] + 1
    assert after["case_steps"] == before["case_steps"] + TRIAGE_STEPS
    assert after["audit_entries"] == before["audit_entries"] + 1  # case.created
    with session_scope() as session:
        stored = session.execute(
            text("SELECT content FROM audit_payloads WHERE case_id = :id AND kind = 'request'"),
            {"id": case["id"]},
        ).scalar_one()
    stored = json.loads(stored) if isinstance(stored, str) else stored
    assert stored["text"] == request_text
    prompt = load_prompt("triage/classify", 1)
    user = prompt.render({"language": "fr", "request": delimit_citizen_text(request_text)})[1]
    if "<citizen_request>" not in request_text:  # the one thing removed: the delimiters
        assert request_text in user["content"]
    assert "49" not in user["content"]


def test_text_over_the_limit_is_refused_even_as_one_word(api: TestClient) -> None:
    before = _counts()
    response = api.post(CASES, content=_json(text="x" * (TEXT_LIMIT + 1)), headers=JSON)
    assert response.status_code == 413
    assert f"the limit is {TEXT_LIMIT}" in response.json()["detail"]
    assert _counts() == before


DECISIONS_REFUSED = [
    pytest.param(b'{"decision": ', JSON, 422, "not valid JSON", id="malformed"),
    pytest.param(b'{"decision": 1}', JSON, 422, "body.decision: Input should be", id="num"),
    pytest.param(b'{"decision": "maybe"}', JSON, 422, "'approve', 'reject' or 'edit'", id="enum"),
    pytest.param(b'{"decision": "\xff"}', JSON, 400, "not valid UTF-8 (byte 0xff", id="utf8"),
    pytest.param(b'{"decision": "approve"}', {"Content-Type": "text/plain"}, 415, "JSON", id="ct"),
    pytest.param(
        b'{"decision": "edit", "edit": {"letter": 5}}',
        JSON,
        422,
        "body.edit.letter: Input should be a valid string",
        id="edit-num",
    ),
    pytest.param(
        b'{"decision": "edit", "edit": {"letter": "a\\ud800"}}',
        JSON,
        422,
        "unpaired surrogate",
        id="edit-lone-surrogate",
    ),
    pytest.param(
        b'{"decision": "edit", "edit": {"letter": "Madame,\\u0000"}}',
        JSON,
        422,
        "edit.letter contains a control character U+0000",
        id="edit-nul",
    ),
    pytest.param(
        b'{"decision": "reject", "reason": "non\\u0007"}',
        JSON,
        422,
        "reason contains a control character U+0007",
        id="reason-bel",
    ),
]


@pytest.mark.parametrize(("content", "headers", "status", "message"), DECISIONS_REFUSED)
def test_a_refused_decision_leaves_the_approval_pending(
    api: TestClient, content: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    case_id, approval_id = _to_approval(api)
    dict(YOUSSEF)  # the supervisor's token is made (an audit entry) before counting
    before = _counts()
    url = f"/api/v1/approvals/{approval_id}"
    response = api.post(url, content=content, headers={**headers, **YOUSSEF})
    assert response.status_code == status, response.text
    assert message in _messages(response)
    assert _counts() == before
    assert api.get(url, headers=YOUSSEF).json()["status"] == "pending"
    assert api.get(f"{CASES}/{case_id}").json()["status"] == "awaiting_approval"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=abc", "query.limit: Input should be a valid integer"),
        ("limit=0", "query.limit: Input should be greater than or equal to 1"),
        ("limit=501", "query.limit: Input should be less than or equal to 500"),
        ("limit=1e3", "query.limit: Input should be a valid integer"),
        ("limit=%00", "query.limit: Input should be a valid integer"),
        ("limit=%FF", "query.limit: Input should be a valid integer"),
        ("limit=99999999999999999999999", "query.limit: Input should be less than or equal"),
        ("offset=99999999999999999999", "less than or equal to"),
        ("status=%00", "query.status: Input should be 'queued'"),
    ],
)
def test_odd_list_queries_are_422(api: TestClient, query: str, message: str) -> None:
    response = api.get(f"{CASES}?{query}")
    assert response.status_code == 422, response.text
    assert message in _messages(response)
