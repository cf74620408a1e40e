"""example banks of classification steps; the language a request is written in

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "step_examples",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("procedure_name", sa.String(length=100), nullable=False),
        sa.Column("step_name", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "procedure_name", "step_name", "text_sha256", "label", name="uq_step_examples_text"
        ),
    )
    op.create_index("ix_step_examples_procedure_name", "step_examples", ["procedure_name"])
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("request_language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("request_language")
    op.drop_index("ix_step_examples_procedure_name", table_name="step_examples")
    op.drop_table("step_examples")
