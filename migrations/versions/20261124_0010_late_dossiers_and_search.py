"""late dossiers and infix search: tasks.reminded_at, dossier_apologies, pg_trgm indexes

Revision ID: 20261124_0010
Revises: 20261124_0009
Create Date: 2026-11-24 08:00:00

- `tasks.reminded_at`: when the handler was reminded that the task falls due (`app/inbox/reminders.py`);
- `dossier_apologies`: each apology paper (04) with the old and the new appointment date (`app/dossiers/late.py`);
- PostgreSQL only: the `pg_trgm` extension and GIN trigram indexes on the folded applicant name and on the code,
  so the inbox search `LIKE '%term%'` (anywhere in the value) stays indexed. SQLite scans (no extension there).
"""
import sqlalchemy as sa
from alembic import op

import app.common.types

revision = '20261124_0010'
down_revision = '20261124_0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminded_at', app.common.types.UTCDateTime(), nullable=True))
    op.create_table(
        'dossier_apologies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('issued_at', app.common.types.UTCDateTime(), nullable=False),
        sa.Column('issued_by_id', sa.Integer(), nullable=True),
        sa.Column('old_due', app.common.types.UTCDateTime(), nullable=True),
        sa.Column('new_due', app.common.types.UTCDateTime(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'],
                                name=op.f('fk_dossier_apologies_dossier_id_dossiers'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_dossier_apologies_issued_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_apologies')),
    )
    with op.batch_alter_table('dossier_apologies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dossier_apologies_dossier_id'), ['dossier_id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute('CREATE INDEX IF NOT EXISTS ix_dossiers_name_folded_trgm ON dossiers '
                   'USING gin (applicant_name_folded gin_trgm_ops)')
        op.execute('CREATE INDEX IF NOT EXISTS ix_dossiers_code_trgm ON dossiers USING gin (code gin_trgm_ops)')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_dossiers_code_trgm')
        op.execute('DROP INDEX IF EXISTS ix_dossiers_name_folded_trgm')
    with op.batch_alter_table('dossier_apologies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dossier_apologies_dossier_id'))
    op.drop_table('dossier_apologies')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('reminded_at')
