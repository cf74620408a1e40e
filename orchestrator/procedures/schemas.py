"""The procedure file format (YAML in seeds/procedures/) and the public API shapes.

A procedure is a list of steps of five kinds: ``llm`` (an agent on a node), ``rule``
(deterministic checks), ``tool`` (an allow-listed Python tool), ``human_approval`` and
``deliver``. Any step may carry a ``when`` condition on earlier outputs. Cross-references
(a path naming a later step, an unknown tool) are checked in :mod:`orchestrator.procedures.checks`
so each problem can be reported with its own location.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME = r"^[a-z][a-z0-9_-]{0,99}$"
STEP_NAME = r"^[a-z][a-z0-9_]{0,49}$"
LABEL_REQUIREMENT = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}(=[^\s,=]{1,64})?$"
"""A node label a step needs: ``gpu`` (present, any value) or ``site=rabat`` (that value)."""
DURATION = r"^[1-9][0-9]{0,4}[mhd]$"
PATH = (
    r"^(applicant\.[a-z][a-z0-9_]*|case\.(text|language|reference)"
    r"|outputs\.[a-z][a-z0-9_]*(\.[A-Za-z0-9_]+)*)$"
)
LANGUAGES = ("fr", "ar", "en")

LocalText = Annotated[
    str | dict[Literal["fr", "ar", "en"], str],
    Field(description="A text, or the same text per language (fr, ar, en)"),
]


def text_in(value: str | dict[Any, str], language: str) -> str:
    """The text in ``language``, else French, else any language given."""
    if isinstance(value, str):
        return value
    return value.get(language) or value.get("fr") or next(iter(value.values()), "")


def duration_seconds(value: str) -> int:
    """``30m``, ``48h`` or ``10d`` in seconds."""
    unit = {"m": 60, "h": 3600, "d": 86400}[value[-1]]
    return int(value[:-1]) * unit


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Choice(Strict):
    value: str = Field(pattern=r"^[a-z0-9_-]{1,50}$")
    label: LocalText


class ApplicantField(Strict):
    """A field the clerk fills about the applicant."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,49}$")
    label: LocalText
    type: Literal["string", "integer", "date", "choice", "choices"] = Field(
        default="string",
        description="choice: one of `choices`; choices: a list of them; date: YYYY-MM-DD",
    )
    required: bool = False
    pattern: str | None = Field(default=None, description="Regular expression (string fields)")
    max_length: int = Field(default=200, ge=1, le=10_000)
    minimum: int | None = Field(default=None, description="Lowest value (integer fields)")
    maximum: int | None = Field(default=None, description="Highest value (integer fields)")
    choices: list[Choice] = Field(default_factory=list)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _choices_match_type(self) -> ApplicantField:
        if self.type in {"choice", "choices"} and not self.choices:
            raise ValueError(f"a field of type {self.type} needs a list of choices")
        if self.type not in {"choice", "choices"} and self.choices:
            raise ValueError("choices are only allowed on fields of type choice or choices")
        return self

    def choice_label(self, value: str, language: str) -> str:
        for choice in self.choices:
            if choice.value == value:
                return text_in(choice.label, language)
        return value


class Condition(Strict):
    """``when:``: one test on a path (``equals``, ``not_equals``, ``in``, ``exists``), or a
    combination of conditions (``all``, ``any``, ``not``)."""

    path: str | None = Field(default=None, pattern=PATH)
    equals: str | int | float | bool | None = None
    not_equals: str | int | float | bool | None = None
    in_: list[str | int | float | bool] | None = Field(default=None, alias="in")
    exists: bool | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        tests = [k for k in ("equals", "not_equals", "in_", "exists") if k in self.model_fields_set]
        groups = [k for k in ("all", "any", "not_") if getattr(self, k) is not None]
        if self.path is not None:
            if len(tests) != 1 or groups:
                raise ValueError(
                    "a condition on a path needs exactly one of: equals, not_equals, in, exists"
                )
        elif len(groups) != 1 or tests:
            raise ValueError("a condition needs a path and a test, or exactly one of all/any/not")
        return self


ErrorKind = Literal[
    "timeout", "node_error", "invalid_output", "model_unavailable", "agent_error", "tool_error"
]


def _retry_on_by_default() -> list[ErrorKind]:
    return ["timeout", "node_error"]


class RetryPolicy(Strict):
    """How often a step is tried, and after which errors it is tried again."""

    attempts: int = Field(default=1, ge=1, le=10, description="Total tries, the first included")
    backoff_s: float = Field(default=2.0, ge=0, le=300, description="Wait before the 2nd try")
    backoff_factor: float = Field(default=2.0, ge=1, le=10)
    on_errors: list[ErrorKind] = Field(
        default_factory=_retry_on_by_default, description="The errors after which to try again"
    )

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before try number ``attempt`` (2, 3, …)."""
        return float(self.backoff_s * self.backoff_factor ** max(0, attempt - 2))


class StepBase(Strict):
    name: str = Field(pattern=STEP_NAME)
    title: LocalText = ""
    when: Condition | None = None
    retry: RetryPolicy = Field(default_factory=RetryPolicy)


class ExampleBank(Strict):
    """A classification step's example bank (``seeds/examples/<procedure>/<step>.jsonl``,
    kept in the database): the engine sends the ``k`` most similar examples with the step,
    and the agent decides the label of ``field`` with them (docs/evaluation.md)."""

    field: str = Field(
        pattern=r"^[a-z_]+$", description="The output field the examples label (an enum)"
    )
    k: int = Field(default=8, ge=1, le=32, description="Examples sent with each request")
    model_weight: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Weight of the model's own answer beside the neighbours' vote (0 to 1)",
    )
    centroid_weight: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description=(
            "Weight of each label's similarity to all of its examples beside the nearest "
            "neighbours' vote (0 to 1)"
        ),
    )


class LlmStep(StepBase):
    """An LLM agent step run on a node that serves ``model``; its output schema lives in the
    prompt file (``agents/prompts/<prompt>.v<prompt_version>.yaml``)."""

    kind: Literal["llm"]
    agent: str
    prompt: str = Field(pattern=r"^[a-z_]+/[a-z_]+$")
    prompt_version: int = Field(ge=1)
    model: str
    pool: str = Field(default="default", description="The node pool preferred, if it can run it")
    requires: list[Annotated[str, Field(pattern=LABEL_REQUIREMENT)]] = Field(
        default_factory=list,
        max_length=16,
        description="Node labels needed: `gpu` (the label, any value) or `site=rabat`",
    )
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    params: dict[str, str] = Field(default_factory=dict, description="Agent parameters")
    examples: ExampleBank | None = Field(
        default=None, description="The example bank a classification agent decides with"
    )


class RuleCheck(Strict):
    """One deterministic check; ``message`` is what the clerk reads when it fails."""

    path: str = Field(pattern=PATH)
    message: LocalText
    required: bool | None = None
    pattern: str | None = None
    one_of: list[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_age_years: int | None = Field(default=None, ge=0, le=150)
    max_age_years: int | None = Field(default=None, ge=0, le=150)
    not_in_future: bool | None = None
    contains_all: list[str] | None = None

    @model_validator(mode="after")
    def _has_a_test(self) -> RuleCheck:
        tests = self.model_fields_set - {"path", "message"}
        if not tests:
            raise ValueError(
                "a check needs a test: required, pattern, one_of, minimum, maximum, "
                "min_age_years, max_age_years, not_in_future or contains_all"
            )
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
        return self


class RuleStep(StepBase):
    """Checks over the applicant fields and earlier outputs. Its output is
    ``{passed, failures: [{path, message}], checked}``; it never fails the case by itself."""

    kind: Literal["rule"]
    checks: list[RuleCheck] = Field(min_length=1)


class ToolStep(StepBase):
    """A call of an allow-listed tool (agents/tools). ``args`` are literal values,
    ``args_from`` maps an argument to a path read when the step runs."""

    kind: Literal["tool"]
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    args_from: dict[str, str] = Field(default_factory=dict)

    @field_validator("args_from")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [f"{k}: {v!r}" for k, v in value.items() if not re.fullmatch(PATH, v)]
        if bad:
            raise ValueError(f"not a path (applicant.X, case.X or outputs.STEP.X): {bad}")
        return value


class HumanApprovalStep(StepBase):
    """The case waits, with no process attached, until a person of ``group`` decides."""

    kind: Literal["human_approval"]
    role: Literal["supervisor"] = "supervisor"
    group: str = Field(pattern=NAME)
    show: list[str] = Field(default_factory=list, description="Steps whose outputs are shown")
    editable: list[str] = Field(
        default_factory=list, description="Draft steps the approver may correct (first that ran)"
    )
    editable_fields: list[str] = Field(default_factory=lambda: ["subject", "letter"])
    due: str = Field(default="48h", pattern=DURATION)
    escalate_to: str | None = Field(default=None, pattern=NAME)


class DeliverStep(StepBase):
    """Render the approved draft as HTML and PDF; ``document`` lists the draft steps (the
    first that ran is used, with the approver's edit if there is one)."""

    kind: Literal["deliver"]
    document: list[str] = Field(min_length=1)
    template: str = Field(default="letter", pattern=r"^[a-z_]+$")
    subject_field: str = "subject"
    body_field: str = "letter"


Step = Annotated[
    LlmStep | RuleStep | ToolStep | HumanApprovalStep | DeliverStep, Field(discriminator="kind")
]


class ProcedureDefinition(Strict):
    name: str = Field(pattern=NAME)
    version: int = Field(ge=1)
    title: str = Field(max_length=200)
    description: str = ""
    deadline: str | None = Field(
        default=None, pattern=DURATION, description="Time allowed from filing to completion"
    )
    applicant_fields: list[ApplicantField] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)

    def step(self, name: str) -> LlmStep | RuleStep | ToolStep | HumanApprovalStep | DeliverStep:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def field(self, name: str) -> ApplicantField | None:
        return next((f for f in self.applicant_fields if f.name == name), None)


class ProcedurePublic(BaseModel):
    name: str
    version: int
    title: str
    description: str
    deadline: str | None
    applicant_fields: list[ApplicantField]
    steps: list[str]
    published_at: datetime
