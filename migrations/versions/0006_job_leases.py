"""Job leases and the publish outbox: `lease_expires_at`, `published_at`.

Revision ID: 0006_job_leases
Revises: 0005_labs
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_job_leases"
down_revision = "0005_labs"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    # Rows that exist already were published by the code that made them.
    op.execute("UPDATE jobs SET published_at = created_at")
    op.create_index("ix_jobs_status_lease_expires_at", "jobs", ["status", "lease_expires_at"])


def downgrade():
    op.drop_index("ix_jobs_status_lease_expires_at", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("published_at")
        batch.drop_column("lease_expires_at")
