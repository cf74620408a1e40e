"""The FastAPI application."""

from __future__ import annotations

from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from orchestrator import telemetry
from orchestrator.approvals.router import router as approvals_router
from orchestrator.cases.router import router as cases_router
from orchestrator.db import get_engine
from orchestrator.errors import IdaraError
from orchestrator.procedures.router import router as procedures_router
from orchestrator.settings import get_settings


def create_app() -> FastAPI:
    telemetry.disable()
    app = FastAPI(
        title="idara",
        version="0.1.0",
        description="Sovereign, on-premises agentic automation for public administrations.",
    )
    app.include_router(cases_router)
    app.include_router(procedures_router)
    app.include_router(approvals_router)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["health"])

    @app.exception_handler(IdaraError)
    async def _idara_error(_: Request, exc: IdaraError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content=exc.body())

    return app


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
