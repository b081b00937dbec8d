"""payments: online payment attempts of dossier fees (issue 6, item 4)

Revision ID: 20261124_0014
Revises: 20261124_0012
Create Date: 2026-11-24 08:30:00

"""
from alembic import op
import sqlalchemy as sa
import app.common.types
from sqlalchemy.dialects import postgresql

revision = '20261124_0014'
down_revision = '20261124_0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('transaction_id', sa.String(length=64), nullable=True),
    sa.Column('payment_url', sa.String(length=1000), nullable=True),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('message', sa.String(length=255), nullable=False),
    sa.Column('created_at', app.common.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('paid_at', app.common.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', app.common.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('checked_at', app.common.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_callback_at', app.common.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_callback', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
              nullable=True),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name=op.f('fk_payments_dossier_id_dossiers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('reference', name=op.f('uq_payments_reference'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_dossier_id'), ['dossier_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_transaction_id'), ['transaction_id'], unique=False)
        batch_op.create_index('ix_payments_state_created', ['state', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_state_created')
        batch_op.drop_index(batch_op.f('ix_payments_transaction_id'))
        batch_op.drop_index(batch_op.f('ix_payments_dossier_id'))
    op.drop_table('payments')
