from __future__ import annotations

import re

from models.kernel.ids import new_id


def test_ids_sort_in_creation_order_even_within_one_millisecond() -> None:
    ids = [new_id("ten") for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"ten_[0-9A-HJKMNP-TV-Z]{26}", i) for i in ids)
