"""``check_documents``: which documents of a procedure's checklist a file still lacks.

The checklists and the documents' labels live in ``<documents_dir>/checklists.yaml``.
"""

from __future__ import annotations

from typing import Any

from agents.tools.base import Tool, ToolContext, ToolError, choose, load_yaml_mapping, section

DATA_FILE = "checklists.yaml"


def _codes(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        raise ToolError(f"{DATA_FILE} is malformed: {where} must be a list of document codes")
    return value


def _label(documents: dict[str, Any], code: str, language: str) -> str:
    labels = documents.get(code)
    label = labels.get(language) if isinstance(labels, dict) else None
    if not isinstance(label, str):
        raise ToolError(f"{DATA_FILE} is malformed: document {code!r} has no label in {language!r}")
    return label


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def check_documents(args: dict[str, Any], context: ToolContext) -> dict[str, Any]:
    data = load_yaml_mapping(context, DATA_FILE)
    documents = section(data, "documents", DATA_FILE)
    checklist = choose("checklist", args["checklist"], section(data, "checklists", DATA_FILE))
    if not isinstance(checklist, dict):
        raise ToolError(f"{DATA_FILE} is malformed: checklist {args['checklist']!r}")
    activities = section(checklist, "activities", f"checklist {args['checklist']!r}")
    required = _codes(choose("activity", args["activity"], activities), args["activity"])
    # "Known" means named anywhere in this checklist, for any of its activities.
    known = {code for name, codes in activities.items() for code in _codes(codes, name)}
    given = _unique(args["provided"])
    provided = [code for code in given if code in known]
    missing = [code for code in required if code not in provided]
    return {
        "complete": not missing,
        "required": required,
        "provided": provided,
        "missing": missing,
        "missing_labels": [_label(documents, code, context.language) for code in missing],
        "unknown": [code for code in given if code not in known],
    }


TOOL = Tool(
    name="check_documents",
    description=(
        "Compare the documents a citizen provided (by code) with the checklist of a procedure "
        "for one activity; returns what is required, missing (with labels in the case's "
        "language) and not recognised."
    ),
    args_schema={
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "checklist": {"type": "string", "pattern": "^[a-z0-9-]+$", "maxLength": 100},
            "activity": {"type": "string", "minLength": 1, "maxLength": 100},
            "provided": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 100},
                "maxItems": 50,
            },
        },
        "required": ["checklist", "activity", "provided"],
        "additionalProperties": False,
    },
    run=check_documents,
)
