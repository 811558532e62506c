"""Learner workstations of the browser terminal: one row per lab session.

Revision ID: 0008_workstations
Revises: 0007_trainer_console
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_workstations"
down_revision = "0007_trainer_console"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "lab_workstations",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("screen", sa.Text(), nullable=False),
        sa.Column("connection", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["lab_sessions.id"],
            name=op.f("fk_lab_workstations_session_id_lab_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_lab_workstations")),
    )


def downgrade():
    op.drop_table("lab_workstations")
