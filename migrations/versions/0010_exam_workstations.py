"""Learner workstations of the exam attempt's browser terminal: one row per attempt.

Revision ID: 0010_exam_workstations
Revises: 0009_exams
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_exam_workstations"
down_revision = "0009_exams"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "exam_workstations",
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("screen", sa.Text(), nullable=False),
        sa.Column("connection", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["exam_attempts.id"],
            name=op.f("fk_exam_workstations_attempt_id_exam_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_exam_workstations")),
    )


def downgrade():
    op.drop_table("exam_workstations")
