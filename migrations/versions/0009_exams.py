"""Mock exams: exam sets, candidates' attempts (one cluster per context, one
deadline) and their grades.

Revision ID: 0009_exams
Revises: 0008_workstations
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_exams"
down_revision = "0008_workstations"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "exams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("time_limit_minutes", sa.Integer(), nullable=False),
        sa.Column("pass_percent", sa.Float(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exams")),
        sa.UniqueConstraint("slug", name=op.f("uq_exams_slug")),
    )
    op.create_table(
        "exam_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "provisioning",
                "running",
                "grading",
                "graded",
                "failed",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("clusters", sa.JSON(), nullable=False),
        sa.Column("kubeconfig", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("auto_submitted", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provision_job_id", sa.Integer(), nullable=True),
        sa.Column("expiry_job_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_id"], ["exams.id"], name=op.f("fk_exam_attempts_exam_id_exams")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_exam_attempts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_attempts")),
    )
    with op.batch_alter_table("exam_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exam_attempts_exam_id"), ["exam_id"], unique=False)
        batch_op.create_index(
            "ix_exam_attempts_status_deadline_at", ["status", "deadline_at"], unique=False
        )
        batch_op.create_index(
            "ix_exam_attempts_user_id_status", ["user_id", "status"], unique=False
        )

    op.create_table(
        "exam_grades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "running",
                "done",
                "failed",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["exam_attempts.id"],
            name=op.f("fk_exam_grades_attempt_id_exam_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_exam_grades_requested_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_grades")),
        sa.UniqueConstraint("attempt_id", "number", name=op.f("uq_exam_grades_attempt_id_number")),
    )
    with op.batch_alter_table("exam_grades", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exam_grades_attempt_id"), ["attempt_id"], unique=False)


def downgrade():
    with op.batch_alter_table("exam_grades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exam_grades_attempt_id"))

    op.drop_table("exam_grades")
    with op.batch_alter_table("exam_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_exam_attempts_user_id_status")
        batch_op.drop_index("ix_exam_attempts_status_deadline_at")
        batch_op.drop_index(batch_op.f("ix_exam_attempts_exam_id"))

    op.drop_table("exam_attempts")
    op.drop_table("exams")
