"""Reading the interface's form posts (``application/x-www-form-urlencoded``) and checking
their form token. A request that carries ``Authorization`` is not a browser's form and needs
no token: another site cannot make a browser send that header."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request

from orchestrator.auth.deps import SESSION_COOKIE
from orchestrator.errors import Forbidden, InvalidInput
from orchestrator.web.render import csrf_token

MAX_FIELDS = 200


class FormData:
    """A posted form: one or several values per name."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def get(self, name: str, default: str = "") -> str:
        return next((value for key, value in self.pairs if key == name), default)

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def names(self) -> set[str]:
        return {key for key, _ in self.pairs}


async def form_data(request: Request) -> FormData:
    body = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and kind not in {"application/x-www-form-urlencoded", "application/json"}:
        raise InvalidInput(f"send the form as application/x-www-form-urlencoded (got {kind})")
    if kind != "application/x-www-form-urlencoded":
        return FormData([])
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"the form could not be read: {exc}") from exc
    return FormData(pairs)


def checked_form(request: Request, form: Annotated[FormData, Depends(form_data)]) -> FormData:
    """The form, once its token matches the browser's session (when signed in by cookie)."""
    session_token = request.cookies.get(SESSION_COOKIE)
    if request.headers.get("authorization") or not session_token:
        return form
    if not hmac.compare_digest(form.get("csrf"), csrf_token(session_token)):
        raise Forbidden("the form has expired or did not come from this page; reload it and retry")
    return form


PostedForm = Annotated[FormData, Depends(checked_form)]
