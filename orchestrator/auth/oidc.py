"""Optional sign-in through an on-premises OpenID Connect provider (Keycloak, …).

The authorization-code flow with PKCE (S256), state and nonce. Between the redirect to the
provider and its redirect back, the server keeps nothing: state, nonce and the PKCE verifier
travel in the ``idara_oidc`` cookie (HttpOnly, SameSite=Lax, 10 minutes), signed with HMAC
under a key of this installation, so a browser can neither forge nor alter it. The ID token is
verified against the provider's published keys, asymmetric algorithms only. Its claims name
the user and give their roles, groups and unit: the provider is the truth for the people who
sign in through it (created at their first sign-in, updated at each), except that a user
disabled in idara stays refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import jwt
from sqlmodel import Session

from agents.private_files import write_new
from orchestrator.audit import chain
from orchestrator.auth import tokens, users
from orchestrator.auth.directory import ROLES
from orchestrator.auth.models import ApiToken, User
from orchestrator.errors import Forbidden, IdaraError, NotFound, Unauthorized
from orchestrator.settings import Settings

FLOW_COOKIE = "idara_oidc"
FLOW_COOKIE_PATH = "/api/v1/auth/oidc"
"""The flow cookie goes only to the two OIDC routes."""
FLOW_TTL_S = 600
LOGIN_PATH = "/api/v1/auth/oidc/login"
CALLBACK_PATH = "/api/v1/auth/oidc/callback"
ALGORITHMS = ("RS256", "ES256", "EdDSA")
"""Signatures only the provider can make: never ``none``, never HS* (whose key would be the
client secret, which idara holds too)."""
HTTP_TIMEOUT_S = 5.0
CACHE_TTL_S = 300.0
LEEWAY_S = 60
FLOW_KEY_FILE = "oidc-flow.key"
UNIT_MAX = 100
DISPLAY_NAME_MAX = 200
VIA = "oidc"
START_AGAIN = f"start again at {LOGIN_PATH}"


class FlowError(IdaraError):
    """The browser came back without the sign-in it started (400)."""

    status_code = 400


class ProviderError(IdaraError):
    """The provider cannot be reached, or answers something that is not OpenID Connect."""

    status_code = 502


class FlowKeyError(IdaraError):
    """The key file that signs the flow cookie cannot be used: a fault of this server."""

    status_code = 500


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True)
class Start:
    """Where to send the browser, and the signed flow cookie to give it."""

    url: str
    flow_cookie: str


@dataclass(frozen=True)
class Identity:
    name: str
    display_name: str
    roles: list[str]
    groups: list[str]
    unit: str | None


_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[float, Any]] = {}
_flow_keys: dict[Path, bytes] = {}


def clear_caches() -> None:
    """Forget discovery documents, key sets and flow keys (tests, a provider's key rotation)."""
    with _lock:
        _cache.clear()
        _flow_keys.clear()


def require_configured(settings: Settings) -> None:
    if not settings.oidc_issuer:
        raise NotFound(
            "OpenID Connect is not configured (set IDARA_OIDC_ISSUER, IDARA_OIDC_CLIENT_ID and "
            "IDARA_OIDC_CLIENT_SECRET to sign in through an on-premises provider)"
        )


def redirect_url(settings: Settings) -> str:
    return settings.oidc_redirect_url or settings.api_base_url.rstrip("/") + CALLBACK_PATH


# --- talking to the provider -------------------------------------------------------------


def _http_options(settings: Settings) -> dict[str, Any]:
    """No proxy or netrc from the environment (``trust_env=False``): the request goes straight
    to the configured host, which the egress guard checks; TLS against the given CA bundle."""
    verify: ssl.SSLContext | bool = True
    if settings.oidc_ca_file is not None:
        try:
            verify = ssl.create_default_context(cafile=str(settings.oidc_ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise ProviderError(
                f"cannot use IDARA_OIDC_CA_FILE {settings.oidc_ca_file}: {exc}"
            ) from exc
    return {"timeout": HTTP_TIMEOUT_S, "trust_env": False, "verify": verify}


def _json_object(response: httpx.Response, url: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProviderError(
            f"{url} answered {response.status_code} with something that is not a JSON object"
        )
    return body


def _get_json(url: str, settings: Settings) -> dict[str, Any]:
    try:
        response = httpx.get(url, headers={"Accept": "application/json"}, **_http_options(settings))
    except httpx.HTTPError as exc:
        raise ProviderError(f"cannot reach the OpenID Connect provider at {url}: {exc}") from exc
    if response.status_code != 200:
        raise ProviderError(f"{url} answered {response.status_code}, not 200")
    return _json_object(response, url)


def _cached(kind: str, url: str, fetch: Any, fresh: bool = False) -> Any:
    """``fetch()``, remembered for ``CACHE_TTL_S`` per ``(kind, url)``."""
    now = time.monotonic()
    with _lock:
        hit = _cache.get((kind, url))
    if hit is not None and not fresh and now - hit[0] < CACHE_TTL_S:
        return hit[1]
    value = fetch()
    with _lock:
        _cache[(kind, url)] = (now, value)
    return value


def discover(settings: Settings) -> Provider:
    """The provider's endpoints from its discovery document, which must name the configured
    issuer exactly (the ID tokens' ``iss`` is checked against it)."""
    issuer = settings.oidc_issuer
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"

    def fetch() -> Provider:
        doc = _get_json(url, settings)
        if doc.get("issuer") != issuer:
            raise ProviderError(
                f"{url} names the issuer {doc.get('issuer')!r}, not the configured {issuer!r}; "
                "set IDARA_OIDC_ISSUER to exactly the provider's issuer"
            )
        endpoints = {}
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = doc.get(field)
            if not isinstance(value, str) or urlsplit(value).scheme not in {"http", "https"}:
                raise ProviderError(f"{url} gives no usable {field} (got {value!r})")
            endpoints[field] = value
        return Provider(issuer=issuer, **endpoints)

    provider: Provider = _cached("discovery", url, fetch)
    return provider


def _jwks(provider: Provider, settings: Settings, fresh: bool = False) -> list[dict[str, Any]]:
    def fetch() -> list[dict[str, Any]]:
        keys = _get_json(provider.jwks_uri, settings).get("keys")
        if not isinstance(keys, list):
            raise ProviderError(f"{provider.jwks_uri} holds no 'keys' list")
        return [key for key in keys if isinstance(key, dict)]

    keys: list[dict[str, Any]] = _cached("jwks", provider.jwks_uri, fetch, fresh)
    return keys


# --- the redirect to the provider ----------------------------------------------------------


def start(settings: Settings) -> Start:
    """The provider's authorization URL for a new sign-in, and the flow cookie that goes with
    it."""
    require_configured(settings)
    provider = discover(settings)
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    params = {
        "response_type": "code",
        "client_id": settings.oidc_client_id,
        "redirect_uri": redirect_url(settings),
        "scope": settings.oidc_scopes,
        "state": state,
        "nonce": nonce,
        "code_challenge": _b64(hashlib.sha256(verifier.encode("ascii")).digest()),
        "code_challenge_method": "S256",
    }
    endpoint = provider.authorization_endpoint
    url = endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)
    flow = {"state": state, "nonce": nonce, "verifier": verifier, "exp": time.time() + FLOW_TTL_S}
    return Start(url=url, flow_cookie=_seal(flow, _flow_key(settings)))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _seal(flow: dict[str, Any], key: bytes) -> str:
    body = _b64(json.dumps(flow, separators=(",", ":")).encode("utf-8"))
    return f"{body}.{_mac(body, key)}"


def _mac(body: str, key: bytes) -> str:
    return _b64(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest())


def _open_flow(cookie: str | None, settings: Settings) -> dict[str, Any]:
    """The flow this browser started, if the cookie is ours, unaltered and not expired."""
    if not cookie:
        raise FlowError(
            f"no sign-in in progress in this browser (the {FLOW_COOKIE} cookie is missing, or "
            f"expired after {FLOW_TTL_S // 60} minutes); {START_AGAIN}"
        )
    body, _, mac = cookie.partition(".")
    expected = _mac(body, _flow_key(settings)) if body.isascii() else ""
    if not hmac.compare_digest(mac.encode("utf-8", "replace"), expected.encode("ascii")):
        raise FlowError(
            f"the {FLOW_COOKIE} cookie was altered or comes from another installation; "
            + START_AGAIN
        )
    flow: dict[str, Any] = json.loads(_unb64(body))
    if float(flow["exp"]) < time.time():
        raise FlowError(f"the sign-in took more than {FLOW_TTL_S // 60} minutes; {START_AGAIN}")
    return flow


def _flow_key(settings: Settings) -> bytes:
    """The HMAC key of the flow cookie: random, made on first use in ``data_dir/keys`` (0600).
    Not derived from the client secret, which may be empty (a public client) and is known to
    the provider's administrators too."""
    path = (settings.data_dir / "keys" / FLOW_KEY_FILE).resolve()
    with _lock:
        known = _flow_keys.get(path)
    if known is not None:
        return known
    if not path.exists():
        write_new(path, secrets.token_hex(32) + "\n")
    try:
        key = bytes.fromhex(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError) as exc:
        raise FlowKeyError(f"cannot use the OpenID Connect flow key {path}: {exc}") from exc
    if len(key) < 32:
        raise FlowKeyError(f"{path} holds fewer than 32 bytes; delete it to make a new one")
    with _lock:
        _flow_keys[path] = key
    return key


# --- the way back: code, ID token, user, session -------------------------------------------


def sign_in(
    session: Session,
    settings: Settings,
    flow_cookie: str | None,
    code: str | None,
    state: str | None,
    error: str | None = None,
    error_description: str | None = None,
) -> tuple[ApiToken, str]:
    """Finish the sign-in the provider sent the browser back from; open an idara session.
    Does not commit a success (the caller does, after setting the cookie)."""
    require_configured(settings)
    flow = _open_flow(flow_cookie, settings)
    if not state or not hmac.compare_digest(
        state.encode("utf-8", "replace"), str(flow["state"]).encode("utf-8")
    ):
        raise FlowError(
            f"the state sent back does not match the sign-in this browser started; {START_AGAIN}"
        )
    if error:
        detail = f" ({error_description[:200]})" if error_description else ""
        raise Unauthorized(f"the provider did not sign you in: {error[:100]}{detail}")
    if not code:
        raise FlowError(f"the provider sent no authorization code back; {START_AGAIN}")
    provider = discover(settings)
    id_token = _exchange(provider, settings, code, str(flow["verifier"]))
    claims = verify_id_token(provider, settings, id_token, str(flow["nonce"]))
    identity = identity_of(claims, settings)
    if not identity.roles:
        _refuse(session, identity.name, "no idara role")
        raise Forbidden(
            f"{identity.name} has no idara role; ask an admin to grant one in the provider "
            f"(one of {', '.join(ROLES)}, in the {settings.oidc_roles_claim} claim)"
        )
    user = _provision(session, identity)
    ttl = timedelta(hours=settings.session_hours)
    row, token = tokens.issue(session, user, tokens.SESSION, "sign-in (oidc)", ttl)
    session.flush()
    chain.record(session, "auth.login", user.name, {"session": row.id, "via": VIA})
    return row, token


def _exchange(provider: Provider, settings: Settings, code: str, verifier: str) -> str:
    """The ID token for ``code`` from the token endpoint (client_secret_basic, PKCE verifier)."""
    url = provider.token_endpoint
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_url(settings),
        "code_verifier": verifier,
    }
    auth = None
    if settings.oidc_client_secret:  # RFC 6749 2.3.1: form-encoded, then Basic
        auth = httpx.BasicAuth(
            quote(settings.oidc_client_id, safe=""), quote(settings.oidc_client_secret, safe="")
        )
    else:  # a public client: PKCE alone
        form["client_id"] = settings.oidc_client_id
    try:
        response = httpx.post(
            url,
            data=form,
            auth=auth,
            headers={"Accept": "application/json"},
            **_http_options(settings),
        )
    except httpx.HTTPError as exc:
        raise ProviderError(f"cannot reach the token endpoint {url}: {exc}") from exc
    body = _json_object(response, url)
    if response.status_code != 200:
        _token_error(url, response.status_code, body)
    id_token = body.get("id_token")
    if not isinstance(id_token, str):
        raise ProviderError(f"{url} returned no id_token; is 'openid' in IDARA_OIDC_SCOPES?")
    return id_token


def _token_error(url: str, status: int, body: dict[str, Any]) -> None:
    """A refused code is the user's (401); refused client credentials are idara's set-up (502)."""
    error = str(body.get("error", ""))[:100]
    described = str(body.get("error_description", ""))[:200]
    if error in {"invalid_client", "unauthorized_client"}:
        raise ProviderError(
            f"{url} refused idara's client credentials ({error}: {described}); check "
            "IDARA_OIDC_CLIENT_ID and IDARA_OIDC_CLIENT_SECRET"
        )
    if error and status in {400, 401}:
        raise Unauthorized(f"the provider refused the authorization code: {error} ({described})")
    raise ProviderError(f"{url} answered {status}: {error or 'no error code'}")


def verify_id_token(
    provider: Provider, settings: Settings, id_token: str, nonce: str
) -> dict[str, Any]:
    """The ID token's claims, once its signature (by a provider key), issuer, audience,
    expiry, issue time and nonce are right; 401 saying which is not."""
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"the ID token is not a signed JWT: {exc}") from exc
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise Unauthorized(
            f"the ID token is signed with {algorithm!r}; idara accepts {', '.join(ALGORITHMS)}"
        )
    key = _signing_key(provider, settings, header.get("kid"), str(algorithm))
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key,
            algorithms=[str(algorithm)],
            audience=settings.oidc_client_id,
            issuer=provider.issuer,
            leeway=LEEWAY_S,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"the ID token does not verify: {exc}") from exc
    got = claims.get("nonce")
    if not isinstance(got, str) or not hmac.compare_digest(
        got.encode("utf-8", "replace"), nonce.encode("utf-8")
    ):
        raise Unauthorized("the ID token's nonce is not the one of this sign-in (replayed?)")
    several = isinstance(claims["aud"], list) and len(claims["aud"]) > 1
    if several and claims.get("azp") != settings.oidc_client_id:
        raise Unauthorized("the ID token names several audiences and idara is not its azp")
    return claims


def _signing_key(provider: Provider, settings: Settings, kid: Any, algorithm: str) -> Any:
    """The provider's public key named ``kid``; the key set is fetched again once when the kid
    is unknown (the provider may have rotated its keys)."""
    for fresh in (False, True):
        found = [
            jwk
            for jwk in _jwks(provider, settings, fresh)
            if (kid is None or jwk.get("kid") == kid)
            and jwk.get("use", "sig") == "sig"
            and jwk.get("alg", algorithm) == algorithm
        ]
        if found:
            break
    else:
        raise Unauthorized(
            f"the ID token's key {kid!r} ({algorithm}) is not among the provider's keys "
            f"({provider.jwks_uri})"
        )
    try:
        return jwt.PyJWK(found[0], algorithm=algorithm).key
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"the provider's key {kid!r} cannot check {algorithm}: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderError(f"{provider.jwks_uri} holds a malformed key {kid!r}: {exc}") from exc


def claim_at(claims: dict[str, Any], path: str) -> Any:
    """The claim at a dotted path (``realm_access.roles``); a claim whose own name holds dots
    (``https://example.org/roles``) is found too."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def identity_of(claims: dict[str, Any], settings: Settings) -> Identity:
    """Who the claims say signed in, in idara's terms: roles other than idara's are ignored,
    Keycloak's group paths lose their leading '/'. 403 when the claims cannot make a user."""
    name = claims.get("preferred_username")
    if not isinstance(name, str) or not users.NAME.fullmatch(name):
        raise Forbidden(
            f"the provider's preferred_username {name!r} is not an idara user name (1-64 "
            "lowercase letters, digits, '.', '_' or '-'); change it in the provider"
        )
    roles = sorted(set(_strings(claim_at(claims, settings.oidc_roles_claim))) & set(ROLES))
    groups = {group.lstrip("/") for group in _strings(claim_at(claims, settings.oidc_groups_claim))}
    units = _strings(claim_at(claims, settings.oidc_unit_claim))
    unit = units[0] if units else None
    if unit is not None and len(unit) > UNIT_MAX:
        raise Forbidden(f"the {settings.oidc_unit_claim} claim is over {UNIT_MAX} characters")
    display_name = claims.get("name")
    return Identity(
        name=name,
        display_name=(display_name if isinstance(display_name, str) else name)[:DISPLAY_NAME_MAX],
        roles=roles,
        groups=sorted(groups - {""}),
        unit=unit or None,
    )


def _provision(session: Session, identity: Identity) -> User:
    """The idara user for ``identity``: created at the first sign-in; roles, groups and unit
    updated from the provider afterwards (``user.updated``). A disabled user is refused."""
    user = session.get(User, identity.name)
    if user is None:
        return users.add(
            session,
            identity.name,
            identity.display_name,
            identity.roles,
            VIA,
            groups=identity.groups,
            unit=identity.unit,
        )
    if user.disabled:
        _refuse(session, identity.name, "disabled")
        raise Unauthorized(users.LOGIN_FAILED)
    return users.update(
        session,
        user.name,
        VIA,
        roles=identity.roles,
        groups=identity.groups,
        unit=identity.unit or "",
    )


def _refuse(session: Session, name: str, reason: str) -> None:
    """Record a refused sign-in of a user the provider vouched for, and commit it."""
    chain.record(session, "auth.login_failed", name, {"reason": reason, "via": VIA})
    session.commit()
