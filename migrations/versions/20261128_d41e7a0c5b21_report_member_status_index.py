"""report member status index: her month's total and latest held report from the index alone

Revision ID: d41e7a0c5b21
Revises: c9bdf294e359
Create Date: 2026-11-28 01:40:00.000000
"""
from alembic import op


revision = 'd41e7a0c5b21'
down_revision = 'c9bdf294e359'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.create_index('ix_report_member_status_day', ['member_id', 'status', 'local_date', 'pieces'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_index('ix_report_member_status_day')
