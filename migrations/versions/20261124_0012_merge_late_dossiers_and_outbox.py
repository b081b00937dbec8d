"""merge the late-dossiers/search and outbox branches

Revision ID: 20261124_0012
Revises: 20261124_0010, 20261124_0011
Create Date: 2026-11-24 08:10:00

"""

revision = '20261124_0012'
down_revision = ('20261124_0010', '20261124_0011')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
