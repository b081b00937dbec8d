"""usage_counters: views, starts and submits per procedure, Vietnam day, event and channel

Revision ID: 20261124_0016
Revises: 20261124_0012
Create Date: 2026-11-24 08:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '20261124_0016'
down_revision = '20261124_0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'usage_counters',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('procedure_id', sa.Integer(), nullable=False),
        sa.Column('event', sa.String(length=16), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'procedure_id', 'event', 'channel', name=op.f('pk_usage_counters')),
    )
    with op.batch_alter_table('usage_counters', schema=None) as batch_op:
        batch_op.create_index('ix_usage_counters_procedure_day', ['procedure_id', 'day'], unique=False)


def downgrade():
    with op.batch_alter_table('usage_counters', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_counters_procedure_day')
    op.drop_table('usage_counters')
