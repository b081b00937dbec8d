"""report facts: one pre-aggregated row per dossier and the refresh watermark (issue 7, leaders)

Revision ID: 20261124_0017
Revises: 20261124_0012
Create Date: 2026-11-24 09:00:00

"""
import sqlalchemy as sa
from alembic import op

import app.common.types

revision = '20261124_0017'
down_revision = '20261124_0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('dossier_facts',
    sa.Column('dossier_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('procedure_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=255), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('received_day', sa.Date(), nullable=False),
    sa.Column('received_at', app.common.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_at', app.common.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', app.common.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('on_time', sa.Boolean(), nullable=True),
    sa.Column('working_days', sa.Float(), nullable=True),
    sa.Column('supplements', sa.Integer(), nullable=False),
    sa.Column('rating', sa.String(length=20), nullable=True),
    sa.Column('paid_online', sa.Boolean(), nullable=False),
    sa.Column('synced', sa.Boolean(), nullable=False),
    sa.Column('refreshed_at', app.common.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('dossier_id', name=op.f('pk_dossier_facts'))
    )
    with op.batch_alter_table('dossier_facts', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_facts_unit_day', ['unit_id', 'received_day'], unique=False)
        batch_op.create_index('ix_dossier_facts_procedure_day', ['procedure_id', 'received_day'], unique=False)
        batch_op.create_index('ix_dossier_facts_field_day', ['field', 'received_day'], unique=False)
        batch_op.create_index('ix_dossier_facts_day', ['received_day'], unique=False)
        batch_op.create_index('ix_dossier_facts_open_due', ['outcome', 'due_at'], unique=False)
    op.create_table('report_state',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('watermark_at', app.common.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('watermark_id', sa.Integer(), nullable=False),
    sa.Column('side_at', app.common.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outbox_low', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', app.common.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_report_state'))
    )
    # the refresh reads dossiers in (updated_at, id) order from its watermark
    op.create_index('ix_dossiers_updated_id', 'dossiers', ['updated_at', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_dossiers_updated_id', table_name='dossiers')
    op.drop_table('report_state')
    with op.batch_alter_table('dossier_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_facts_open_due')
        batch_op.drop_index('ix_dossier_facts_day')
        batch_op.drop_index('ix_dossier_facts_field_day')
        batch_op.drop_index('ix_dossier_facts_procedure_day')
        batch_op.drop_index('ix_dossier_facts_unit_day')
    op.drop_table('dossier_facts')
