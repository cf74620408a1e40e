from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from orchestrator.db import make_engine, migrate
from orchestrator.procedures.service import ProcedureError, load_definition, publish
from orchestrator.settings import SEEDS_DIR

TRIAGE_FILE = SEEDS_DIR / "procedures" / "citizen-request-triage.yaml"


def test_published_versions_are_immutable(database_url: str) -> None:
    migrate(database_url)
    engine = make_engine(database_url)
    definition = load_definition(TRIAGE_FILE)
    with Session(engine) as session:
        _, created = publish(session, definition)
        assert created
        _, created_again = publish(session, definition)
        assert not created_again
        changed = definition.model_copy(update={"title": "Another title"})
        with pytest.raises(ProcedureError, match="immutable"):
            publish(session, changed)
        newer = definition.model_copy(update={"version": 2, "title": "Another title"})
        assert publish(session, newer)[1]
    engine.dispose()


def test_an_invalid_procedure_file_lists_its_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad Name\nversion: 0\ntitle: x\nsteps: []\n")
    with pytest.raises(ProcedureError) as caught:
        load_definition(bad)
    message = str(caught.value)
    assert "name" in message and "version" in message and "steps" in message
