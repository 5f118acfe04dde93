"""review tallies: the reviewers' majority label, median onset/apex, count and exclude flag
per sequence, kept by every annotation save so the sequence list reads one row per sequence
instead of recounting all annotations on every request (issue 14, review latency).

The backfill counts the existing annotations with the same rules as
app/services/effective.py (majority label, a tie of the top labels is a disagreement, lower
median of the onsets and apexes, any reviewer's exclude flag); it is written out here so
that this migration keeps meaning what it meant when the app changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
from collections import Counter
from collections.abc import Sequence
from statistics import median_low

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    tallies = op.create_table(
        'review_tallies',
        sa.Column('sequence_id', sa.Integer(), nullable=False),
        sa.Column('reviewers', sa.Integer(), nullable=False),
        sa.Column('label', sa.Integer(), nullable=True),
        sa.Column('tied', sa.Boolean(), nullable=False),
        sa.Column('onset_frame', sa.Integer(), nullable=True),
        sa.Column('apex_frame', sa.Integer(), nullable=True),
        sa.Column('exclude', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['sequence_id'], ['sequences.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('sequence_id'))
    annotations = sa.table('annotations', sa.column('sequence_id'), sa.column('label'),
                           sa.column('onset_frame'), sa.column('apex_frame'),
                           sa.column('exclude'))
    by_sequence: dict[int, list] = {}
    for row in op.get_bind().execute(sa.select(annotations)):
        by_sequence.setdefault(row.sequence_id, []).append(row)
    rows = [_tally(seq_id, found) for seq_id, found in sorted(by_sequence.items())]
    if rows:
        op.bulk_insert(tallies, rows)


def _tally(sequence_id: int, annotations: list) -> dict:
    votes = Counter(a.label for a in annotations if a.label is not None).most_common()
    tied = len(votes) > 1 and votes[0][1] == votes[1][1]
    onsets = [a.onset_frame for a in annotations if a.onset_frame is not None]
    apexes = [a.apex_frame for a in annotations if a.apex_frame is not None]
    return {"sequence_id": sequence_id, "reviewers": len(annotations),
            "label": votes[0][0] if votes and not tied else None, "tied": tied,
            "onset_frame": median_low(onsets) if onsets else None,
            "apex_frame": median_low(apexes) if apexes else None,
            "exclude": any(bool(a.exclude) for a in annotations)}


def downgrade() -> None:
    op.drop_table('review_tallies')
