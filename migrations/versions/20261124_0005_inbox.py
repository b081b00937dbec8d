"""inbox: delegations while on leave, indexes for due-date keyset pages and diacritic-free search

Revision ID: 20261124_0005
Revises: 20261124_0002
Create Date: 2026-11-24 06:50:00

"""
from alembic import op
import sqlalchemy as sa
import app.common.types

revision = '20261124_0005'
down_revision = '20261124_0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'task_delegations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('delegate_id', sa.Integer(), nullable=False),
        sa.Column('role_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('note', sa.String(length=500), nullable=False),
        sa.Column('created_at', app.common.types.UTCDateTime(), nullable=False),
        sa.Column('cancelled_at', app.common.types.UTCDateTime(), nullable=True),
        sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_task_delegations_user_id_users'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['delegate_id'], ['users.id'],
                                name=op.f('fk_task_delegations_delegate_id_users'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['cancelled_by_id'], ['users.id'],
                                name=op.f('fk_task_delegations_cancelled_by_id_users')),
        sa.ForeignKeyConstraint(['role_id'], ['roles.id'], name=op.f('fk_task_delegations_role_id_roles')),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_task_delegations_unit_id_units')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_task_delegations')),
    )
    op.create_index('ix_task_delegations_user_id', 'task_delegations', ['user_id'])
    op.create_index('ix_task_delegations_delegate', 'task_delegations', ['delegate_id', 'ends_on'])
    op.create_index('ix_tasks_open_due', 'tasks', ['due_at', 'id'],
                    postgresql_where=sa.text("state = 'open'"), sqlite_where=sa.text("state = 'open'"))
    if op.get_bind().dialect.name == 'postgresql':
        # prefix search (LIKE 'x%') on the folded name and on the code, whatever the database's collation
        op.execute('CREATE INDEX ix_dossiers_name_folded_pattern ON dossiers '
                   '(applicant_name_folded text_pattern_ops)')
        op.execute('CREATE INDEX ix_dossiers_code_pattern ON dossiers (code text_pattern_ops)')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_dossiers_code_pattern')
        op.execute('DROP INDEX IF EXISTS ix_dossiers_name_folded_pattern')
    op.drop_index('ix_tasks_open_due', table_name='tasks')
    op.drop_index('ix_task_delegations_delegate', table_name='task_delegations')
    op.drop_index('ix_task_delegations_user_id', table_name='task_delegations')
    op.drop_table('task_delegations')
