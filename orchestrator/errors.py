"""Domain errors that carry the HTTP status and a message saying what to fix."""

from __future__ import annotations

from typing import Any


class IdaraError(Exception):
    """``headers`` go out with the response, e.g. the Retry-After of a refusal for now."""

    status_code = 400

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra
        self.headers: dict[str, str] = {}

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


class _RetryLater(IdaraError):
    """A refusal for now, not for good: the client is told when to come back."""

    def __init__(self, message: str, retry_after_s: int, **extra: Any) -> None:
        super().__init__(message, retry_after_s=retry_after_s, **extra)
        self.headers = {"Retry-After": str(retry_after_s)}


class ServiceUnavailable(_RetryLater):
    status_code = 503


class TooManyRequests(_RetryLater):
    status_code = 429
