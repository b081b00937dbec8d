"""ratings (satisfaction after the result), citizens' optional accounts, citizen_dossiers (claimed dossiers),
dossiers.citizen_id (submitted while signed in)

Revision ID: 20261124_0015
Revises: 20261124_0012
Create Date: 2026-11-24 08:30:00

"""
import sqlalchemy as sa
from alembic import op

import app.common.types

revision = '20261124_0015'
down_revision = '20261124_0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ratings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('level', sa.String(length=20), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('created_at', app.common.types.UTCDateTime(), nullable=False),
        sa.Column('updated_at', app.common.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("level IN ('very_satisfied', 'satisfied', 'not_satisfied')", name=op.f('ck_ratings_level')),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name=op.f('fk_ratings_dossier_id_dossiers'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ratings')),
        sa.UniqueConstraint('dossier_id', name=op.f('uq_ratings_dossier_id')),
    )
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ratings_created_at'), ['created_at'], unique=False)

    op.create_table(
        'citizens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=255), nullable=True),
        sa.Column('phone', sa.String(length=20), nullable=True),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', app.common.types.UTCDateTime(), nullable=False),
        sa.Column('last_login_at', app.common.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_citizens')),
        sa.UniqueConstraint('email', name=op.f('uq_citizens_email')),
        sa.UniqueConstraint('phone', name=op.f('uq_citizens_phone')),
    )
    op.create_table(
        'citizen_dossiers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('citizen_id', sa.Integer(), nullable=False),
        sa.Column('dossier_id', sa.Integer(), nullable=False),
        sa.Column('claimed_at', app.common.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_citizen_dossiers_citizen_id_citizens'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name=op.f('fk_citizen_dossiers_dossier_id_dossiers'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_citizen_dossiers')),
        sa.UniqueConstraint('citizen_id', 'dossier_id', name=op.f('uq_citizen_dossiers_citizen_id')),
    )
    with op.batch_alter_table('citizen_dossiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citizen_dossiers_citizen_id'), ['citizen_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_citizen_dossiers_dossier_id'), ['dossier_id'], unique=False)

    # a plain ADD COLUMN on both backends: SQLite takes the REFERENCES clause inline (no table rebuild, which
    # would drop and recreate the dossiers table with every dependent row)
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE dossiers ADD COLUMN citizen_id INTEGER '
                   'CONSTRAINT fk_dossiers_citizen_id_citizens REFERENCES citizens (id) ON DELETE SET NULL')
    else:
        op.add_column('dossiers', sa.Column('citizen_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_dossiers_citizen_id_citizens'), 'dossiers', 'citizens', ['citizen_id'], ['id'],
                              ondelete='SET NULL')
    op.create_index(op.f('ix_dossiers_citizen_id'), 'dossiers', ['citizen_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_dossiers_citizen_id'), table_name='dossiers')
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('dossiers', schema=None) as batch_op:
            batch_op.drop_column('citizen_id')
    else:
        op.drop_constraint(op.f('fk_dossiers_citizen_id_citizens'), 'dossiers', type_='foreignkey')
        op.drop_column('dossiers', 'citizen_id')
    with op.batch_alter_table('citizen_dossiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citizen_dossiers_dossier_id'))
        batch_op.drop_index(batch_op.f('ix_citizen_dossiers_citizen_id'))
    op.drop_table('citizen_dossiers')
    op.drop_table('citizens')
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ratings_created_at'))
    op.drop_table('ratings')
