"""timers: BPMN timer events materialised as rows the scheduler fires; the scheduler's heartbeat

Revision ID: 20261124_0004
Revises: 20261124_0002
Create Date: 2026-11-24 06:55:00

"""
from alembic import op
import sqlalchemy as sa
import app.common.types

revision = '20261124_0004'
down_revision = '20261124_0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'timers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('bpmn_id', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('due_at', app.common.types.UTCDateTime(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('locked_until', app.common.types.UTCDateTime(), nullable=True),
        sa.Column('claimed_by', sa.String(length=120), nullable=True),
        sa.Column('created_at', app.common.types.UTCDateTime(), nullable=False),
        sa.Column('finished_at', app.common.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name=op.f('fk_timers_dossier_id_dossiers'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_timers')),
    )
    op.create_index('ix_timers_dossier_id', 'timers', ['dossier_id'])
    op.create_index('ix_timers_pending_due', 'timers', ['due_at', 'id'],
                    postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'"))
    op.create_table(
        'scheduler_heartbeat',
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('holder', sa.String(length=120), nullable=True),
        sa.Column('started_at', app.common.types.UTCDateTime(), nullable=True),
        sa.Column('beat_at', app.common.types.UTCDateTime(), nullable=True),
        sa.Column('fired_total', sa.Integer(), nullable=False, server_default='0'),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_heartbeat')),
    )


def downgrade():
    op.drop_table('scheduler_heartbeat')
    op.drop_index('ix_timers_pending_due', table_name='timers')
    op.drop_index('ix_timers_dossier_id', table_name='timers')
    op.drop_table('timers')
