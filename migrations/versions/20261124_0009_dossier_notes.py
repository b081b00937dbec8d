"""dossier_notes: officials' comments and internal notes on a dossier

Revision ID: 20261124_0009
Revises: 20261124_0008
Create Date: 2026-11-24 07:15:00

"""
import sqlalchemy as sa
from alembic import op

import app.common.types

revision = '20261124_0009'
down_revision = '20261124_0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'dossier_notes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('created_at', app.common.types.UTCDateTime(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('attachment_ids', app.common.types.JsonType, nullable=False),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name=op.f('fk_dossier_notes_dossier_id_dossiers'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_dossier_notes_author_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_notes')),
    )
    with op.batch_alter_table('dossier_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dossier_notes_dossier_id'), ['dossier_id'], unique=False)


def downgrade():
    with op.batch_alter_table('dossier_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dossier_notes_dossier_id'))
    op.drop_table('dossier_notes')
