"""``compute_fee``: the fee a procedure charges, from the schedule in ``fees.yaml``.

fee (MAD) = base + rate x (surface - threshold) when the surface exceeds the threshold, else base.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agents.tools.base import Tool, ToolContext, ToolError, choose, load_yaml_mapping, section

DATA_FILE = "fees.yaml"
_TIMES = "\u00d7"  # the multiplication sign

_BASIS_FLAT = {
    "fr": "Redevance de base de {base} MAD : la surface de {surface} m² ne dépasse pas "
    "{threshold} m².",
    "ar": "رسم أساسي قدره {base} درهم: المساحة ({surface} م²) لا تتجاوز {threshold} م².",
    "en": "Base fee of {base} MAD: the surface of {surface} m² does not exceed {threshold} m².",
}
_BASIS_ABOVE = {
    "fr": "Redevance de base de {base} MAD jusqu'à {threshold} m², plus {rate} MAD par m² "
    "au-delà : {base} + {extra} {times} {rate} = {fee} MAD pour {surface} m².",
    "ar": "رسم أساسي قدره {base} درهم إلى حدود {threshold} م²، زائد {rate} درهم عن كل م² "
    "إضافي: {base} + {extra} {times} {rate} = {fee} درهم عن {surface} م².",
    "en": "Base fee of {base} MAD up to {threshold} m², plus {rate} MAD per m² above: "
    "{base} + {extra} {times} {rate} = {fee} MAD for {surface} m².",
}


@dataclass(frozen=True)
class Rate:
    base: int
    threshold: int
    rate: int
    article: str

    @classmethod
    def parse(cls, raw: Any, activity: str) -> Rate:
        fields = ("base_mad", "threshold_m2", "rate_mad_per_m2")
        if not isinstance(raw, dict) or not all(_amount(raw.get(f)) for f in fields):
            raise ToolError(f"{DATA_FILE} is malformed: {activity!r} needs {', '.join(fields)}")
        if not isinstance(raw.get("article"), str):
            raise ToolError(f"{DATA_FILE} is malformed: {activity!r} names no article")
        return cls(raw["base_mad"], raw["threshold_m2"], raw["rate_mad_per_m2"], raw["article"])

    def fee(self, surface: int) -> int:
        return self.base + self.rate * max(0, surface - self.threshold)


def _amount(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _basis(rate: Rate, surface: int, language: str) -> str:
    extra = surface - rate.threshold
    templates = _BASIS_ABOVE if extra > 0 else _BASIS_FLAT
    template = choose("language", language, templates)
    return str(template).format(
        base=rate.base,
        threshold=rate.threshold,
        rate=rate.rate,
        extra=extra,
        surface=surface,
        fee=rate.fee(surface),
        times=_TIMES,
    )


def compute_fee(args: dict[str, Any], context: ToolContext) -> dict[str, Any]:
    data = load_yaml_mapping(context, DATA_FILE)
    schedule = choose("schedule", args["schedule"], section(data, "schedules", DATA_FILE))
    if not isinstance(schedule, dict):
        raise ToolError(f"{DATA_FILE} is malformed: schedule {args['schedule']!r}")
    activities = section(schedule, "activities", f"schedule {args['schedule']!r}")
    rate = Rate.parse(choose("activity", args["activity"], activities), args["activity"])
    surface = int(args["surface_m2"])  # JSON Schema also calls 120.0 an integer
    return {
        "fee_mad": rate.fee(surface),
        "basis": _basis(rate, surface, context.language),
        "article": rate.article,
    }


TOOL = Tool(
    name="compute_fee",
    description=(
        "Compute the fee in MAD for an activity of a fee schedule from the surface of the "
        "premises; returns the amount, how it was computed (in the case's language) and the "
        "article that sets it."
    ),
    args_schema={
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "schedule": {"type": "string", "pattern": "^[a-z0-9-]+$", "maxLength": 100},
            "activity": {"type": "string", "minLength": 1, "maxLength": 100},
            "surface_m2": {"type": "integer", "minimum": 1, "maximum": 100000},
        },
        "required": ["schedule", "activity", "surface_m2"],
        "additionalProperties": False,
    },
    run=compute_fee,
)
