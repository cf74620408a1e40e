"""cases: the Prefect task run of the case's latest engine run

From this version a case's engine run is one Prefect task run (no flow run per case, no task
run per step); ``prefect_flow_run_id`` stays for cases run by earlier versions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 00:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("prefect_task_run_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("prefect_task_run_id")
