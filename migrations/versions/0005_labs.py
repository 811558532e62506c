"""Labs, lab sessions and their grades.

Revision ID: 0005_labs
Revises: 0004_cohorts
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_labs"
down_revision = "0004_cohorts"
branch_labels = None
depends_on = None


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade():
    op.create_table(
        "labs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("domain", sa.String(length=60), nullable=False),
        sa.Column("section", sa.String(length=40), nullable=False),
        sa.Column("difficulty", sa.String(length=10), nullable=False),
        sa.Column("time_limit_minutes", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("manifests", sa.JSON(), nullable=False),
        sa.Column("source_folder", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labs")),
        sa.UniqueConstraint("slug", name=op.f("uq_labs_slug")),
    )
    op.create_table(
        "lab_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            _enum(
                "status",
                "provisioning",
                "ready",
                "grading",
                "graded",
                "expired",
                "failed",
                "ended",
            ),
            nullable=False,
        ),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("cluster", sa.JSON(), nullable=True),
        sa.Column("kubeconfig", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("hints_revealed", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provision_job_id", sa.Integer(), nullable=True),
        sa.Column("expiry_job_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["lab_id"], ["labs.id"], name=op.f("fk_lab_sessions_lab_id_labs")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_lab_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_sessions")),
    )
    op.create_index(op.f("ix_lab_sessions_lab_id"), "lab_sessions", ["lab_id"])
    op.create_index("ix_lab_sessions_user_id_status", "lab_sessions", ["user_id", "status"])
    op.create_index("ix_lab_sessions_status_expires_at", "lab_sessions", ["status", "expires_at"])
    op.create_table(
        "lab_grades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "status", _enum("status", "pending", "running", "done", "failed"), nullable=False
        ),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("earned", sa.Float(), nullable=True),
        sa.Column("possible", sa.Float(), nullable=True),
        sa.Column("percentage", sa.Float(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["lab_sessions.id"],
            name=op.f("fk_lab_grades_session_id_lab_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_grades")),
        sa.UniqueConstraint("session_id", "number", name=op.f("uq_lab_grades_session_id_number")),
    )
    op.create_index(op.f("ix_lab_grades_session_id"), "lab_grades", ["session_id"])


def downgrade():
    op.drop_index(op.f("ix_lab_grades_session_id"), table_name="lab_grades")
    op.drop_table("lab_grades")
    op.drop_index("ix_lab_sessions_status_expires_at", table_name="lab_sessions")
    op.drop_index("ix_lab_sessions_user_id_status", table_name="lab_sessions")
    op.drop_index(op.f("ix_lab_sessions_lab_id"), table_name="lab_sessions")
    op.drop_table("lab_sessions")
    op.drop_table("labs")
