"""drafts (save and resume a submission) and the applicant's channel choices on dossiers

Revision ID: 20261124_0013
Revises: 20261124_0012
Create Date: 2026-11-24 09:00:00

"""
import sqlalchemy as sa
from alembic import op

import app.common.types

revision = '20261124_0013'
down_revision = '20261124_0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'drafts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('procedure_id', sa.Integer(), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('applicant', app.common.types.JsonType, nullable=False),
        sa.Column('data', app.common.types.JsonType, nullable=False),
        sa.Column('choices', app.common.types.JsonType, nullable=False),
        sa.Column('steps_done', app.common.types.JsonType, nullable=False),
        sa.Column('contact', sa.String(length=255), nullable=True),
        sa.Column('created_at', app.common.types.UTCDateTime(), nullable=False),
        sa.Column('updated_at', app.common.types.UTCDateTime(), nullable=False),
        sa.Column('expires_at', app.common.types.UTCDateTime(), nullable=False),
        sa.Column('submitted_at', app.common.types.UTCDateTime(), nullable=True),
        sa.Column('submitted_dossier_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['procedure_id'], ['procedures.id'], name=op.f('fk_drafts_procedure_id_procedures')),
        sa.ForeignKeyConstraint(['version_id'], ['procedure_versions.id'],
                                name=op.f('fk_drafts_version_id_procedure_versions')),
        sa.ForeignKeyConstraint(['submitted_dossier_id'], ['dossiers.id'],
                                name=op.f('fk_drafts_submitted_dossier_id_dossiers'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_drafts')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_drafts_token_hash')),
    )
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drafts_procedure_id'), ['procedure_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_drafts_expires_at'), ['expires_at'], unique=False)
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submission_method', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('return_method', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('postal_address', app.common.types.JsonType, nullable=True))


def downgrade():
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.drop_column('postal_address')
        batch_op.drop_column('return_method')
        batch_op.drop_column('submission_method')
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drafts_expires_at'))
        batch_op.drop_index(batch_op.f('ix_drafts_procedure_id'))
    op.drop_table('drafts')
