"""calendar overrides: extra days off and extra working days over the holidays package

Revision ID: 20261124_0003
Revises: 20261124_0002
Create Date: 2026-11-24 06:50:00

"""
from alembic import op
import sqlalchemy as sa
import app.common.types

# revision identifiers, used by Alembic.
revision = "20261124_0003"
down_revision = "20261124_0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "calendar_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.common.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('day_off', 'working_day')", name="ck_calendar_overrides_kind"),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("date"),
    )


def downgrade():
    op.drop_table("calendar_overrides")
