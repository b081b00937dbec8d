"""merge the drafts, payments, ratings/citizens, usage counters and report facts branches

Revision ID: 20261124_0018
Revises: 20261124_0013, 20261124_0014, 20261124_0015, 20261124_0016, 20261124_0017
Create Date: 2026-11-24 08:45:00

"""

revision = '20261124_0018'
down_revision = ('20261124_0013', '20261124_0014', '20261124_0015', '20261124_0016', '20261124_0017')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
