"""The procedure file format (YAML in seeds/procedures/) and the public API shapes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME = r"^[a-z][a-z0-9_-]{0,99}$"


class ApplicantField(BaseModel):
    """A field the clerk fills about the applicant."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,49}$")
    label: str
    type: Literal["string"] = "string"
    required: bool = False
    pattern: str | None = None
    max_length: int = Field(default=200, ge=1, le=10_000)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
        return value


class LlmStep(BaseModel):
    """A step an LLM agent runs on a node that serves ``model``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME)
    kind: Literal["llm"] = "llm"
    agent: str
    prompt: str
    prompt_version: int = Field(ge=1)
    model: str
    pool: str = "default"
    max_tokens: int | None = Field(default=None, ge=1, le=4096)


class ProcedureDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME)
    version: int = Field(ge=1)
    title: str
    description: str = ""
    applicant_fields: list[ApplicantField] = Field(default_factory=list)
    steps: list[LlmStep] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> ProcedureDefinition:
        for label, names in (
            ("step", [step.name for step in self.steps]),
            ("applicant field", [f.name for f in self.applicant_fields]),
        ):
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"duplicate {label} names: {', '.join(duplicates)}")
        return self


class ProcedurePublic(BaseModel):
    name: str
    version: int
    title: str
    description: str
    applicant_fields: list[ApplicantField]
    steps: list[str]
    published_at: datetime
