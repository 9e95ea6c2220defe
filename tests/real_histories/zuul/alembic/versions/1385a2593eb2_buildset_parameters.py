# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""buildset_parameters

Revision ID: 1385a2593eb2
Revises: 268b2da7a66e
Create Date: 2026-05-28 10:03:39.013680

"""

# revision identifiers, used by Alembic.
revision = '1385a2593eb2'
down_revision = '268b2da7a66e'
branch_labels = None
depends_on = None

from alembic import op
import sqlalchemy as sa


def upgrade(table_prefix=''):
    op.add_column(
        table_prefix + 'zuul_buildset',
        sa.Column('parameters', sa.JSON(), nullable=True))
    op.add_column(
        table_prefix + 'zuul_buildset',
        sa.Column('user_id', sa.String(255), nullable=True))


def downgrade():
    raise Exception("Downgrades not supported")
