"""drafts.citizen_id: a signed-in citizen's drafts are listed and resumable from their account

Revision ID: 20261124_0019
Revises: 20261124_0018
Create Date: 2026-11-24 09:15:00

"""
import sqlalchemy as sa
from alembic import op

revision = '20261124_0019'
down_revision = '20261124_0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('citizen_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_drafts_citizen_id'), ['citizen_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_drafts_citizen_id_citizens'), 'citizens', ['citizen_id'], ['id'],
                                    ondelete='CASCADE')


def downgrade():
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_drafts_citizen_id_citizens'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_drafts_citizen_id'))
        batch_op.drop_column('citizen_id')
