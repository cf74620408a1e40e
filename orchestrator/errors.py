"""Domain errors that carry the HTTP status and a message saying what to fix."""

from __future__ import annotations

from typing import Any


class IdaraError(Exception):
    status_code = 400

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"detail": self.message, **self.extra}


class NotFound(IdaraError):
    status_code = 404


class Conflict(IdaraError):
    status_code = 409


class PayloadTooLarge(IdaraError):
    status_code = 413


class InvalidInput(IdaraError):
    status_code = 422


class Unauthorized(IdaraError):
    status_code = 401


class Forbidden(IdaraError):
    status_code = 403
