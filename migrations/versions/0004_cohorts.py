"""Cohorts, their members and assignments, and the activity log.

Revision ID: 0004_cohorts
Revises: 0003_quizzes
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_cohorts"
down_revision = "0003_quizzes"
branch_labels = None
depends_on = None


def _enum(name, length, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def upgrade():
    op.create_table(
        "cohorts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_cohorts_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohorts")),
    )
    op.create_index(op.f("ix_cohorts_owner_id"), "cohorts", ["owner_id"])
    op.create_table(
        "cohort_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_cohort_members_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_cohort_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohort_members")),
        sa.UniqueConstraint(
            "cohort_id", "user_id", name=op.f("uq_cohort_members_cohort_id_user_id")
        ),
    )
    op.create_index(op.f("ix_cohort_members_cohort_id"), "cohort_members", ["cohort_id"])
    op.create_index(op.f("ix_cohort_members_user_id"), "cohort_members", ["user_id"])
    op.create_table(
        "cohort_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("kind", 8, "quiz", "lab"), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_cohort_assignments_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohort_assignments")),
        sa.UniqueConstraint(
            "cohort_id", "kind", "slug", name=op.f("uq_cohort_assignments_cohort_id_kind_slug")
        ),
    )
    op.create_index(op.f("ix_cohort_assignments_cohort_id"), "cohort_assignments", ["cohort_id"])
    op.create_table(
        "activity_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "verb",
            _enum("verb", 16, "started", "answered", "submitted", "graded", "expired"),
            nullable=False,
        ),
        sa.Column("object_kind", _enum("object_kind", 8, "quiz", "lab"), nullable=False),
        sa.Column("object_slug", sa.String(length=80), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("percent", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_activity_events_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_events")),
    )
    op.create_index("ix_activity_events_user_time", "activity_events", ["user_id", "occurred_at"])


def downgrade():
    op.drop_index("ix_activity_events_user_time", table_name="activity_events")
    op.drop_table("activity_events")
    op.drop_index(op.f("ix_cohort_assignments_cohort_id"), table_name="cohort_assignments")
    op.drop_table("cohort_assignments")
    op.drop_index(op.f("ix_cohort_members_user_id"), table_name="cohort_members")
    op.drop_index(op.f("ix_cohort_members_cohort_id"), table_name="cohort_members")
    op.drop_table("cohort_members")
    op.drop_index(op.f("ix_cohorts_owner_id"), table_name="cohorts")
    op.drop_table("cohorts")
