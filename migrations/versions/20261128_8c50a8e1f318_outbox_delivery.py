"""outbox delivery

Revision ID: 8c50a8e1f318
Revises: 9b86052e5053
Create Date: 2026-11-28 00:19:38.432175
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '8c50a8e1f318'
down_revision = '9b86052e5053'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sender_lease',
    sa.Column('sender', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('sender')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_sid', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('content_variables', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('sender', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('fell_back', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('twilio_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column('delivered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index('ix_outbox_due', ['status', 'not_before'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_due')
        batch_op.drop_column('delivered_at')
        batch_op.drop_column('twilio_status')
        batch_op.drop_column('fell_back')
        batch_op.drop_column('sender')
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('content_variables')
        batch_op.drop_column('content_sid')

    op.drop_table('sender_lease')
