"""procedures.current_version_id references procedure_versions on PostgreSQL too

The initial revision declared this foreign key with use_alter inside create_table, which PostgreSQL
skipped (SQLite kept it). Nothing changes on SQLite.

Revision ID: 20261124_0007
Revises: 20261124_0006
Create Date: 2026-11-24 07:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = '20261124_0007'
down_revision = '20261124_0006'
branch_labels = None
depends_on = None


def _has_fk(bind) -> bool:
    return any(fk.get("name") == "fk_procedures_current_version"
               for fk in sa.inspect(bind).get_foreign_keys("procedures"))


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "sqlite" and not _has_fk(bind):
        op.create_foreign_key("fk_procedures_current_version", "procedures", "procedure_versions",
                              ["current_version_id"], ["id"])


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != "sqlite" and _has_fk(bind):
        op.drop_constraint("fk_procedures_current_version", "procedures", type_="foreignkey")
