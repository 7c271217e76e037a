"""inbound sender time index

Revision ID: b9172dcecb3e
Revises: d41e7a0c5b21
Create Date: 2026-11-28 01:29:10.676645
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'b9172dcecb3e'
down_revision = 'd41e7a0c5b21'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.create_index('ix_inbound_sender_time', ['sender', 'received_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_sender_time')

