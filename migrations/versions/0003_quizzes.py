"""Question banks, versioned questions, quizzes, attempts and attempt items.

Revision ID: 0003_quizzes
Revises: 0002_jobs
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_quizzes"
down_revision = "0002_jobs"
branch_labels = None
depends_on = None


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade():
    op.create_table(
        "banks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source_file", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banks")),
        sa.UniqueConstraint("slug", name=op.f("uq_banks_slug")),
    )
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=80), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("declared_version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("difficulty", sa.String(length=10), nullable=False),
        sa.Column("domain", sa.String(length=60), nullable=False),
        sa.Column("section", sa.String(length=40), nullable=False),
        sa.Column("topic", sa.String(length=80), nullable=False),
        sa.Column("seed_section", sa.String(length=200), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["banks.id"], name=op.f("fk_questions_bank_id_banks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questions")),
        sa.UniqueConstraint("uid", "revision", name=op.f("uq_questions_uid_revision")),
    )
    op.create_index(op.f("ix_questions_uid"), "questions", ["uid"])
    op.create_index(op.f("ix_questions_bank_id"), "questions", ["bank_id"])
    op.create_index("ix_questions_current", "questions", ["is_current", "retired_at"])

    op.create_table(
        "quizzes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("time_limit_minutes", sa.Integer(), nullable=False),
        sa.Column("pass_mark", sa.Float(), nullable=False),
        sa.Column("attempts_allowed", sa.Integer(), nullable=False),
        sa.Column(
            "grading_method", _enum("grading_method", "highest", "last", "average"), nullable=False
        ),
        sa.Column("shuffle_questions", sa.Boolean(), nullable=False),
        sa.Column("shuffle_options", sa.Boolean(), nullable=False),
        sa.Column(
            "expiry_policy", _enum("expiry_policy", "autosubmit", "grace", "abandon"), nullable=False
        ),
        sa.Column("grace_minutes", sa.Integer(), nullable=False),
        sa.Column(
            "review_policy",
            _enum("review_policy", "score_only", "correctness", "answers", "explanations"),
            nullable=False,
        ),
        sa.Column("review_after", _enum("review_after", "submit", "close"), nullable=False),
        sa.Column("close_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("draw", sa.JSON(), nullable=False),
        sa.Column("source", _enum("source", "blueprint", "custom"), nullable=False),
        sa.Column("source_file", sa.String(length=500), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_quizzes_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quizzes")),
        sa.UniqueConstraint("slug", name=op.f("uq_quizzes_slug")),
    )

    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quiz_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "status", _enum("status", "in_progress", "submitted", "abandoned"), nullable=False
        ),
        sa.Column(
            "close_reason", _enum("close_reason", "submitted", "deadline", "abandoned"), nullable=True
        ),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accommodation", sa.Float(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("max_score", sa.Float(), nullable=True),
        sa.Column("percent", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("breakdown", sa.JSON(), nullable=True),
        sa.Column("expiry_job_id", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["quiz_id"], ["quizzes.id"], name=op.f("fk_attempts_quiz_id_quizzes")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_attempts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
        sa.UniqueConstraint(
            "quiz_id", "user_id", "number", name=op.f("uq_attempts_quiz_id_user_id_number")
        ),
    )
    op.create_index(op.f("ix_attempts_quiz_id"), "attempts", ["quiz_id"])
    op.create_index(op.f("ix_attempts_user_id"), "attempts", ["user_id"])
    op.create_index(op.f("ix_attempts_status"), "attempts", ["status"])
    op.create_index(op.f("ix_attempts_expires_at"), "attempts", ["expires_at"])

    op.create_table(
        "attempt_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("question_uid", sa.String(length=80), nullable=False),
        sa.Column("display_order", sa.JSON(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("max_score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempts.id"],
            name=op.f("fk_attempt_items_attempt_id_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"], ["questions.id"], name=op.f("fk_attempt_items_question_id_questions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempt_items")),
        sa.UniqueConstraint(
            "attempt_id", "question_uid", name=op.f("uq_attempt_items_attempt_id_question_uid")
        ),
    )
    op.create_index(op.f("ix_attempt_items_attempt_id"), "attempt_items", ["attempt_id"])
    op.create_index(op.f("ix_attempt_items_question_id"), "attempt_items", ["question_id"])


def downgrade():
    op.drop_index(op.f("ix_attempt_items_question_id"), table_name="attempt_items")
    op.drop_index(op.f("ix_attempt_items_attempt_id"), table_name="attempt_items")
    op.drop_table("attempt_items")
    op.drop_index(op.f("ix_attempts_expires_at"), table_name="attempts")
    op.drop_index(op.f("ix_attempts_status"), table_name="attempts")
    op.drop_index(op.f("ix_attempts_user_id"), table_name="attempts")
    op.drop_index(op.f("ix_attempts_quiz_id"), table_name="attempts")
    op.drop_table("attempts")
    op.drop_table("quizzes")
    op.drop_index("ix_questions_current", table_name="questions")
    op.drop_index(op.f("ix_questions_bank_id"), table_name="questions")
    op.drop_index(op.f("ix_questions_uid"), table_name="questions")
    op.drop_table("questions")
    op.drop_table("banks")
