"""conversations and media: what the bot asked a member, messages for the coordinator, media kept

Revision ID: e5a1c0d2f7b3
Revises: b9172dcecb3e
Create Date: 2026-12-01 23:30:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = 'e5a1c0d2f7b3'
down_revision = 'b9172dcecb3e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending', sa.JSON(), nullable=True))
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('for_coordinator', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('num_media', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('latitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('longitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('address', sa.String(length=300), nullable=True))
    op.create_table(
        'inbound_media',
        sa.Column('inbound_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=500), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['inbound_id'], ['inbound_message.id'], ),
        sa.PrimaryKeyConstraint('inbound_id', 'position'),
    )


def downgrade() -> None:
    op.drop_table('inbound_media')
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.drop_column('address')
        batch_op.drop_column('longitude')
        batch_op.drop_column('latitude')
        batch_op.drop_column('num_media')
        batch_op.drop_column('for_coordinator')
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_column('pending')
