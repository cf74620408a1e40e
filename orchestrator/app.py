"""The FastAPI application."""

from __future__ import annotations

import logging
import math
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator import telemetry
from orchestrator.admission import AdmissionMiddleware, BodyTooLarge
from orchestrator.approvals.router import router as approvals_router
from orchestrator.audit.router import router as audit_router
from orchestrator.auth import admin, log_masking
from orchestrator.auth.router import router as auth_router
from orchestrator.cases.router import router as cases_router
from orchestrator.db import get_engine
from orchestrator.errors import IdaraError, InvalidInput
from orchestrator.metrics import router as metrics_router
from orchestrator.nodes.router import router as nodes_router
from orchestrator.procedures.router import router as procedures_router
from orchestrator.settings import get_settings
from orchestrator.sovereignty import egress
from orchestrator.web import errors as web_errors
from orchestrator.web import router as web

log = logging.getLogger(__name__)
FASTAPI_PARSE_ERROR = "There was an error parsing the body"
"""FastAPI's 400 for a body it could not decode; the cause it chains says what was wrong."""


def create_app() -> FastAPI:
    telemetry.disable()
    egress.install()
    log_masking.install()
    settings = get_settings()
    app = FastAPI(
        title="idara",
        version="0.1.0",
        description="Sovereign, on-premises agentic automation for public administrations.",
    )
    app.include_router(auth_router)
    app.include_router(admin.router)
    app.include_router(admin.tokens_router)
    app.include_router(cases_router)
    app.include_router(procedures_router)
    app.include_router(approvals_router)
    app.include_router(audit_router)
    app.include_router(nodes_router)
    app.include_router(metrics_router)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["health"])
    web.mount(app)
    app.add_middleware(
        AdmissionMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_inflight=settings.max_inflight_requests,
        retry_after_s=settings.retry_after_s,
    )

    @app.exception_handler(IdaraError)
    async def _idara_error(request: Request, exc: IdaraError) -> Response:
        if web_errors.is_ui(request):
            return web_errors.error_page(request, exc)
        return JSONResponse(
            status_code=exc.status_code, content=json_safe(exc.body()), headers=exc.headers
        )

    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    for kind in (UnicodeEncodeError, OverflowError, DataError):
        app.add_exception_handler(kind, refused_value)
    return app


async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's 422, minus the echoed ``input``: echoing binary bytes, a lone surrogate or a NaN
    made the error response itself fail with a 500, and a client knows what it sent."""
    if web_errors.is_ui(request):
        problem = "; ".join(
            f"{'.'.join(map(str, _loc(e)))}: {e.get('msg', '')}" for e in exc.errors()
        )
        return web_errors.error_page(request, InvalidInput(problem))
    if isinstance(exc.body, bytes) and any(_loc(e)[:1] == ["body"] for e in exc.errors()):
        got = request.headers.get("content-type") or "no Content-Type"
        detail = f"the body must be JSON sent with Content-Type: application/json (got {got})"
        return JSONResponse(status_code=415, content=json_safe({"detail": detail}))
    errors = [_described(error) for error in exc.errors()]
    return JSONResponse(status_code=422, content=json_safe({"detail": errors}))


def _described(error: dict[str, Any]) -> dict[str, Any]:
    """One validation error as type, loc, msg (and ctx), the body-level ones said plainly."""
    kind, loc = error.get("type", ""), _loc(error)
    msg = str(error.get("msg", ""))
    ctx = error.get("ctx")
    if kind == "json_invalid":
        reason = str(ctx.get("error", "")) if isinstance(ctx, dict) else ""
        msg = f"the body is not valid JSON: {reason.removesuffix(' at')} at character {loc[-1]}"
    elif loc == ["body"] and kind == "missing":
        msg = "the body is empty; send a JSON object"
    elif loc == ["body"] and kind in {"model_attributes_type", "dict_type"}:
        msg = "the body must be a JSON object"
    described: dict[str, Any] = {"type": kind, "loc": loc, "msg": msg}
    if isinstance(ctx, dict):
        described["ctx"] = {key: _plain(value) for key, value in ctx.items()}
    return described


def _loc(error: dict[str, Any]) -> list[Any]:
    return list(error.get("loc", ()))


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Starlette's HTTP errors, saying what was wrong with a body FastAPI could not parse."""
    if isinstance(exc, BodyTooLarge):
        body = {"detail": exc.detail, "limit": exc.limit}
        return JSONResponse(status_code=413, content=body, headers={"Connection": "close"})
    if exc.detail == FASTAPI_PARSE_ERROR and exc.__cause__ is not None:
        exc = StarletteHTTPException(400, _unparsable(exc.__cause__), exc.headers)
    return await http_exception_handler(request, exc)


def _unparsable(cause: BaseException) -> str:
    if isinstance(cause, UnicodeDecodeError):
        byte = cause.object[cause.start]
        return (
            f"the body is not valid UTF-8 (byte 0x{byte:02x} at position {cause.start}); "
            "send JSON encoded as UTF-8"
        )
    if isinstance(cause, RecursionError):
        return "the JSON body is nested too deeply"
    return f"the body could not be read ({type(cause).__name__}); send a JSON object in UTF-8"


def json_safe(value: Any) -> Any:
    """``value`` with lone surrogates replaced and non-finite floats as text, so that an error
    response quoting what a client sent can always be encoded."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {json_safe(str(key)): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


async def refused_value(request: Request, exc: Exception) -> Response:
    """A safety net under the request models: a value no model refused but that cannot be
    stored (a lone surrogate in a string that is hashed, a number past 64 bits) is the client's
    input, not a server fault, and nothing was committed (the session rolls back). Logged, so
    that the model that should have refused it can be fixed."""
    if isinstance(exc, UnicodeEncodeError) and exc.reason == "surrogates not allowed":
        detail = "the request holds an unpaired surrogate (a lone \\uD800-\\uDFFF); remove it"
    elif isinstance(exc, OverflowError | DataError):
        detail = f"a value of the request is out of range for the database: {_first_line(exc)}"
    else:
        raise exc
    log.warning("%s %s refused with 422: %s", request.method, request.url.path, exc)
    return JSONResponse(status_code=422, content=json_safe({"detail": detail}))


def _first_line(exc: Exception) -> str:
    cause = exc.orig if isinstance(exc, DataError) else exc
    return str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__


def healthz() -> dict[str, Any]:
    """Liveness and the state of what the API depends on. Redis down does not stop filing."""
    settings = get_settings()
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))
    try:
        client = redis.Redis.from_url(settings.effective_redis_url, socket_timeout=1)
        client.ping()
        broker = "ok"
    except redis.RedisError as exc:
        broker = f"unreachable: {exc}"
    return {"status": "ok", "database": "ok", "broker": broker}
