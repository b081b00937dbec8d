"""dossiers.clock_paused_at: the deadline clock pauses while a supplement is awaited

Revision ID: 20261124_0008
Revises: 20261124_0007
Create Date: 2026-11-24 07:20:00

"""
import sqlalchemy as sa
from alembic import op

import app.common.types

revision = '20261124_0008'
down_revision = '20261124_0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clock_paused_at', app.common.types.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.drop_column('clock_paused_at')
