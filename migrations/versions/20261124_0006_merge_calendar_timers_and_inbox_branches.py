"""merge calendar, timers and inbox branches

Revision ID: 20261124_0006
Revises: 20261124_0003, 20261124_0004, 20261124_0005
Create Date: 2026-11-24 07:05:07.161915

"""
from alembic import op
import sqlalchemy as sa
import app.common.types


# revision identifiers, used by Alembic.
revision = '20261124_0006'
down_revision = ('20261124_0003', '20261124_0004', '20261124_0005')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
