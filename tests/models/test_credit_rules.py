"""The credit ledger's allocation, pure: soonest-expiring first, credit that never
expires last (grants before the pool), never more than a lot holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.credits.rules import Draw, Lot, allocate, pool

JUNE, APRIL = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)


def test_the_soonest_expiring_grant_is_drawn_first_and_the_pool_last() -> None:
    lots = [Lot(None, 100), Lot("never", 50), Lot("june", 30, JUNE), Lot("april", 20, APRIL)]
    assert allocate(lots, 60) == [Draw("april", 20), Draw("june", 30), Draw("never", 10)]
    assert allocate(lots, 200) == [Draw("april", 20), Draw("june", 30), Draw("never", 50), Draw(None, 100)]
    assert allocate(lots, 0) == []


def test_grants_expiring_at_the_same_instant_are_drawn_oldest_first() -> None:
    assert allocate([Lot("a", 5, JUNE), Lot("b", 5, JUNE)], 7) == [Draw("a", 5), Draw("b", 2)]


def test_more_than_the_lots_hold_is_refused() -> None:
    with pytest.raises(ValueError):
        allocate([Lot("a", 5, JUNE)], 6)
    with pytest.raises(ValueError):
        pool(10, [6, 5])
    assert pool(10, [6, 4]) == 0


lots = st.lists(
    st.builds(
        Lot,
        grant_id=st.text(min_size=1, max_size=4),
        remaining=st.integers(0, 10**6),
        expires_at=st.one_of(st.none(), st.sampled_from([APRIL, JUNE])),
    ),
    max_size=8,
    unique_by=lambda lot: lot.grant_id,
)


@given(lots=lots, share=st.floats(0, 1))
def test_a_draw_takes_exactly_the_amount_and_never_more_than_a_lot_holds(
    lots: list[Lot], share: float
) -> None:
    amount = int(sum(lot.remaining for lot in lots) * share)
    draws = allocate(lots, amount)
    assert sum(d.amount for d in draws) == amount
    assert all(d.amount > 0 for d in draws)
    holds = {lot.grant_id: lot.remaining for lot in lots}
    assert all(d.amount <= holds[d.grant_id] for d in draws)
    assert len({d.grant_id for d in draws}) == len(draws)
