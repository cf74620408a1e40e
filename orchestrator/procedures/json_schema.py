"""The JSON Schema of the procedure format, as published in docs/procedure.schema.json
(``idara procedures schema`` prints it)."""

from __future__ import annotations

from orchestrator.procedures.schemas import ProcedureDefinition


def procedure_json_schema() -> dict[str, object]:
    schema = ProcedureDefinition.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "idara procedure"
    return schema
