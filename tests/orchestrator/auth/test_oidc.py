"""Sign-in through OpenID Connect, against a small but real provider of the tests' own on
127.0.0.1 (discovery, keys, an authorize endpoint that redirects back with a code, a token
endpoint that checks the code, the PKCE verifier and the client's credentials and signs an ID
token), driven through the idara app as a browser would."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm
from pydantic import ValidationError
from sqlalchemy import text
from sqlmodel import Session

from orchestrator.auth import oidc, users
from orchestrator.auth.models import User
from orchestrator.db import get_engine, session_scope
from orchestrator.settings import Settings, get_settings
from orchestrator.sovereignty import check
from tests.conftest import free_port
from tests.orchestrator.conftest import NOBODY

CLIENT_ID, CLIENT_SECRET = "idara", "Kc-3f8a1-a-long-random-client-secret-0042"
CALLBACK = "http://testserver/api/v1/auth/oidc/callback"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeProvider:
    """A Keycloak-like realm: what it puts in its ID tokens is set per test."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.issuer = f"http://127.0.0.1:{self.server.server_port}/realms/idara"
        self.codes: dict[str, dict[str, str]] = {}
        self.reset()

    def reset(self) -> None:
        self.person: dict[str, Any] = {
            "preferred_username": "leila",
            "name": "Leila Fassi",
            "realm_access": {"roles": ["supervisor", "offline_access", "uma_authorization"]},
            "groups": ["/reception", "/civil-status"],
            "unit": "rabat-reception",
        }
        self.token_claims: dict[str, Any] = {}
        """Claims to set (or, with None, remove) in the next ID tokens."""
        self.signing_key, self.kid, self.alg = KEY, "realm-key-1", "RS256"

    def discovery(self) -> dict[str, Any]:
        base = f"{self.issuer}/protocol/openid-connect"
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{base}/auth",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/certs",
        }

    def jwks(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": "realm-key-1", "use": "sig", "alg": "RS256"}]}

    def authorize(self, query: dict[str, str]) -> str:
        """The redirect back to idara, as if the person had signed in at the provider."""
        assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
        assert query["code_challenge_method"] == "S256" and query["scope"].split()[0] == "openid"
        code = secrets.token_urlsafe(16)
        self.codes[code] = query
        back = urlencode({"code": code, "state": query["state"]})
        return f"{query['redirect_uri']}?{back}"

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if authorization != f"Basic {expected}":
            return 401, {"error": "invalid_client", "error_description": "bad credentials"}
        asked = self.codes.pop(form.get("code", ""), None)
        if asked is None or form.get("redirect_uri") != asked["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "code not valid"}
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if challenge.decode() != asked["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        return 200, {"access_token": "opaque", "token_type": "Bearer", "id_token": self._id(asked)}

    def _id(self, asked: dict[str, str]) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "f3c1a7e2",
            "iat": now,
            "exp": now + 300,
            "nonce": asked["nonce"],
            **self.person,
        }
        for name, value in self.token_claims.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        key: Any = self.signing_key
        return jwt.encode(claims, key, algorithm=self.alg, headers={"kid": self.kid})


def _handler(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {name: values[0] for name, values in parse_qs(url.query).items()}
            if url.path.endswith("/.well-known/openid-configuration"):
                self._json(200, provider.discovery())
            elif url.path.endswith("/certs"):
                self._json(200, provider.jwks())
            elif url.path.endswith("/auth"):
                self.send_response(302)
                self.send_header("Location", provider.authorize(query))
                self.end_headers()
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            form = {name: values[0] for name, values in parse_qs(body).items()}
            self._json(*provider.token(form, self.headers.get("Authorization", "")))

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def running_provider() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    thread = threading.Thread(target=provider.server.serve_forever, daemon=True)
    thread.start()
    yield provider
    provider.server.shutdown()
    provider.server.server_close()


@pytest.fixture
def provider(
    api: TestClient, running_provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> FakeProvider:
    """The ``api`` app, configured to sign people in at the test provider."""
    monkeypatch.setenv("IDARA_OIDC_ISSUER", running_provider.issuer)
    monkeypatch.setenv("IDARA_OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("IDARA_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("IDARA_OIDC_REDIRECT_URL", CALLBACK)
    get_settings.cache_clear()
    oidc.clear_caches()
    running_provider.reset()
    return running_provider


def _start(api: TestClient) -> str:
    """Begin signing in at idara; return where the provider sends the browser back."""
    started = api.get("/api/v1/auth/oidc/login", headers=NOBODY, follow_redirects=False)
    assert started.status_code == 303, started.text
    at_provider = httpx.get(started.headers["location"], follow_redirects=False, trust_env=False)
    assert at_provider.status_code == 302
    return at_provider.headers["location"]


def _sign_in(api: TestClient) -> httpx.Response:
    return api.get(_start(api), headers=NOBODY, follow_redirects=False)


def _me(api: TestClient) -> httpx.Response:
    return api.get("/api/v1/auth/me", headers=NOBODY)  # the session cookie only


def _audit() -> list[tuple[str, str, str]]:
    with session_scope() as session:
        rows = session.execute(text("SELECT kind, actor, data FROM audit_entries ORDER BY seq"))
        return [(kind, actor, str(data)) for kind, actor, data in rows]


def _flow_cookie(api: TestClient) -> Any:
    return next(cookie for cookie in api.cookies.jar if cookie.name == oidc.FLOW_COOKIE)


def test_signing_in_creates_the_user_with_the_provider_roles_and_opens_a_session(
    api: TestClient, provider: FakeProvider
) -> None:
    started = api.get("/api/v1/auth/oidc/login", headers=NOBODY, follow_redirects=False)
    asked = parse_qs(urlsplit(started.headers["location"]).query)
    assert asked["code_challenge_method"] == ["S256"] and asked["redirect_uri"] == [CALLBACK]
    assert asked["scope"] == ["openid profile email"] and asked["response_type"] == ["code"]
    flow_cookie = started.headers["set-cookie"].lower()
    for attribute in ("httponly", "samesite=lax", "path=/api/v1/auth/oidc", "max-age=600"):
        assert attribute in flow_cookie
    assert "idara_session" not in started.headers["set-cookie"]

    done = _sign_in(api)
    # a page that moves on by itself: a redirect chain begun at the provider's site would
    # not carry the SameSite=Strict session cookie to the next page
    assert done.status_code == 200, done.text
    assert 'http-equiv="refresh" content="0;url=/ui/"' in done.text
    set_cookies = done.headers.get_list("set-cookie")
    assert any(c.startswith("idara_session=") and "SameSite=strict" in c for c in set_cookies)
    assert any(c.startswith('idara_oidc=""') and "Max-Age=0" in c for c in set_cookies)
    assert _me(api).json() == {
        "name": "leila",
        "display_name": "Leila Fassi",
        "roles": ["supervisor"],
        "groups": ["civil-status", "reception"],
        "unit": "rabat-reception",
    }
    with Session(get_engine()) as session:
        user = session.get(User, "leila")
        assert user is not None and user.password_hash is None and not user.disabled
    entries = _audit()
    assert ("user.added", "oidc") in [(kind, actor) for kind, actor, _ in entries]
    login = [data for kind, actor, data in entries if kind == "auth.login" and actor == "leila"]
    assert len(login) == 1 and "oidc" in login[0]
    key_file = Path(os.environ["IDARA_DATA_DIR"]) / "keys" / oidc.FLOW_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_roles_groups_and_unit_follow_the_provider_at_each_sign_in(
    api: TestClient, provider: FakeProvider
) -> None:
    provider.person = {
        "preferred_username": "youssef",  # a seed supervisor, known to idara already
        "realm_access": {"roles": ["clerk", "auditor"]},
        "groups": [],
        "unit": "fes-reception",
    }
    assert _sign_in(api).status_code == 200
    me = _me(api).json()
    assert me["roles"] == ["auditor", "clerk"] and me["groups"] == []
    assert me["unit"] == "fes-reception" and me["display_name"] == "Youssef Alaoui"
    updated = [data for kind, _, data in _audit() if kind == "user.updated"]
    assert len(updated) == 1 and "youssef" in updated[0]
    provider.person["realm_access"] = {"roles": ["supervisor"]}
    provider.person["groups"] = ["reception"]
    assert _sign_in(api).status_code == 200
    assert _me(api).json()["roles"] == ["supervisor"]
    assert [kind for kind, _, _ in _audit()].count("user.updated") == 2
    assert _sign_in(api).status_code == 200  # nothing changed: no new entry
    assert [kind for kind, _, _ in _audit()].count("user.updated") == 2


def test_a_user_disabled_in_idara_stays_refused(api: TestClient, provider: FakeProvider) -> None:
    with Session(get_engine()) as session:
        users.disable(session, "amina", "test")
        session.commit()
    provider.person = {"preferred_username": "amina", "realm_access": {"roles": ["clerk"]}}
    refused = _sign_in(api)
    assert refused.status_code == 401
    assert refused.json() == {"detail": users.LOGIN_FAILED}
    assert "idara_session" not in refused.headers.get("set-cookie", "")
    assert ("auth.login_failed", "amina") in [(kind, actor) for kind, actor, _ in _audit()]


def test_no_idara_role_or_an_unusable_name_is_403(api: TestClient, provider: FakeProvider) -> None:
    provider.person["realm_access"] = {"roles": ["offline_access", "root"]}
    refused = _sign_in(api)
    assert refused.status_code == 403
    assert "leila has no idara role; ask an admin to grant one in the provider" in refused.text
    with Session(get_engine()) as session:
        assert session.get(User, "leila") is None
    provider.reset()
    provider.person["preferred_username"] = "Leila Fassi"
    refused = _sign_in(api)
    assert refused.status_code == 403 and "is not an idara user name" in refused.text


def test_a_forged_state_a_missing_or_tampered_flow_cookie_is_400(
    api: TestClient, provider: FakeProvider
) -> None:
    back = _start(api)
    forged = back.replace("state=", "state=x")
    refused = api.get(forged, headers=NOBODY, follow_redirects=False)
    assert refused.status_code == 400 and "does not match" in refused.text

    back = _start(api)
    cookie = _flow_cookie(api)
    body, mac = cookie.value.split(".")
    flow = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    flow["exp"] += 3600
    cookie.value = base64.urlsafe_b64encode(json.dumps(flow).encode()).decode().rstrip("=")
    cookie.value += f".{mac}"
    refused = api.get(back, headers=NOBODY, follow_redirects=False)
    assert refused.status_code == 400 and "was altered" in refused.text

    back = _start(api)
    api.cookies.jar.clear()
    refused = api.get(back, headers=NOBODY, follow_redirects=False)
    assert refused.status_code == 400 and "no sign-in in progress" in refused.text
    assert _me(api).status_code == 401


def test_a_flow_older_than_ten_minutes_is_400(
    api: TestClient, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    back = _start(api)
    later = SimpleNamespace(time=lambda: time.time() + 601, monotonic=time.monotonic)
    monkeypatch.setattr(oidc, "time", later)
    refused = api.get(back, headers=NOBODY, follow_redirects=False)
    assert refused.status_code == 400 and "more than 10 minutes" in refused.text


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"signing_key": OTHER_KEY}, "Signature verification failed"),
        ({"kid": "unknown-key"}, "is not among the provider's keys"),
        ({"alg": "HS256", "signing_key": CLIENT_SECRET}, "signed with 'HS256'"),
        ({"alg": "none", "signing_key": None}, "signed with 'none'"),
        ({"aud": "another-client"}, "Audience doesn't match"),
        ({"iss": "http://127.0.0.1:1/realms/other"}, "Invalid issuer"),
        ({"nonce": "replayed-nonce"}, "nonce is not the one of this sign-in"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ({"exp": None}, 'missing the "exp" claim'),
    ],
)
def test_an_id_token_that_does_not_verify_is_401(
    api: TestClient, provider: FakeProvider, change: dict[str, Any], refusal: str
) -> None:
    for name, value in change.items():
        if name in {"signing_key", "kid", "alg"}:
            setattr(provider, name, value)
        else:
            provider.token_claims[name] = value
    refused = _sign_in(api)
    assert refused.status_code == 401, refused.text
    assert refusal in refused.json()["detail"]
    assert _me(api).status_code == 401
    with Session(get_engine()) as session:
        assert session.get(User, "leila") is None


def test_a_code_the_provider_refuses_is_401_and_wrong_client_credentials_502(
    api: TestClient, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    back = _start(api)
    provider.codes.clear()  # expired at the provider
    refused = api.get(back, headers=NOBODY, follow_redirects=False)
    assert refused.status_code == 401 and "invalid_grant" in refused.text
    monkeypatch.setenv("IDARA_OIDC_CLIENT_SECRET", "not-the-registered-secret")
    get_settings.cache_clear()
    refused = _sign_in(api)
    assert refused.status_code == 502 and "refused idara's client credentials" in refused.text


def test_oidc_off_is_404_on_both_routes(api: TestClient) -> None:
    for path in ("/api/v1/auth/oidc/login", "/api/v1/auth/oidc/callback?code=c&state=s"):
        answer = api.get(path, headers=NOBODY, follow_redirects=False)
        assert answer.status_code == 404
        assert "OpenID Connect is not configured (set IDARA_OIDC_ISSUER" in answer.text


def test_a_provider_unreachable_off_premises_or_not_the_issuer_is_502(
    api: TestClient, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/realms/idara"
    monkeypatch.setenv("IDARA_OIDC_ISSUER", nowhere)
    get_settings.cache_clear()
    refused = api.get("/api/v1/auth/oidc/login", headers=NOBODY, follow_redirects=False)
    assert refused.status_code == 502
    assert f"{nowhere}/.well-known/openid-configuration" in refused.json()["detail"]
    monkeypatch.setenv("IDARA_OIDC_ISSUER", "http://192.0.2.10/realms/idara")  # off premises
    get_settings.cache_clear()
    refused = api.get("/api/v1/auth/oidc/login", headers=NOBODY, follow_redirects=False)
    assert refused.status_code == 502 and "idara egress guard" in refused.text
    monkeypatch.setenv("IDARA_OIDC_ISSUER", provider.issuer + "/")
    get_settings.cache_clear()
    refused = api.get("/api/v1/auth/oidc/login", headers=NOBODY, follow_redirects=False)
    assert refused.status_code == 502 and "not the configured" in refused.text


@pytest.mark.parametrize(
    ("issuer", "secret", "refused"),
    [
        ("https://sso.interieur.local/realms/idara", "", "IDARA_OIDC_CLIENT_SECRET"),
        ("https://sso.interieur.local/realms/idara", "changeme", "IDARA_OIDC_CLIENT_SECRET"),
        ("http://sso.interieur.local/realms/idara", CLIENT_SECRET, "IDARA_OIDC_ISSUER is not"),
    ],
)
def test_production_refuses_a_default_client_secret_or_an_issuer_without_tls(
    issuer: str, secret: str, refused: str
) -> None:
    with pytest.raises(ValidationError, match=refused):
        Settings(environment="production", oidc_issuer=issuer, oidc_client_secret=secret)
    Settings(environment="development", oidc_issuer=issuer, oidc_client_secret=secret)


def test_production_accepts_a_real_secret_over_tls_or_loopback() -> None:
    for issuer in ("https://sso.interieur.local/realms/idara", "http://127.0.0.1:8080/realms/x"):
        Settings(environment="production", oidc_issuer=issuer, oidc_client_secret=CLIENT_SECRET)
    Settings(environment="production", oidc_client_secret="")  # OIDC off: nothing to check


def _issuer_line(settings: Settings) -> list[str]:
    return [
        f"{line.status} {line.detail}"
        for line in check._endpoints(settings)
        if line.what == "endpoint: OpenID Connect issuer"
    ]


def test_the_sovereignty_check_requires_an_internal_issuer() -> None:
    loopback = Settings(oidc_issuer="http://127.0.0.1:8080/realms/idara")
    outside = Settings(oidc_issuer="https://192.0.2.10/realms/idara")
    assert _issuer_line(loopback) == ["PASS 127.0.0.1"]
    assert _issuer_line(outside) == [
        "FAIL 192.0.2.10 is neither loopback nor in IDARA_INTERNAL_HOSTS"
    ]
    assert _issuer_line(Settings()) == []  # OIDC off
