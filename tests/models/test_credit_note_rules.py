"""The pure rules of credit notes by line: what each line named is credited, and which
lines are refused."""

from __future__ import annotations

import pytest

from models.credit_notes.rules import Line, line_credits
from models.kernel.enums import LineKind
from models.kernel.errors import InvoiceNotCreditable, ValidationFailed

LINES = {
    "il_base": Line("il_base", 0, LineKind.BASE, "Team Pro", 300_00, 0),
    "il_seats": Line("il_seats", 1, LineKind.ADDON, "Seats", 150_00, 100_00),
    "il_unused": Line("il_unused", 2, LineKind.PRORATION, "Unused time on Team", -40_00, 0),
    "il_off": Line("il_off", 3, LineKind.DISCOUNT, "20% off", -90_00, 0),
}


def test_a_line_without_an_amount_is_credited_all_that_is_left_of_it() -> None:
    credits = line_credits("ACME-0001", "USD", LINES, [("il_seats", None), ("il_base", 12_34)])
    assert [(line.id, amount) for line, amount in credits] == [("il_seats", 50_00), ("il_base", 12_34)]


@pytest.mark.parametrize(
    ("line_id", "says"),
    [
        (
            "il_unused",
            "line 3 of invoice ACME-0001 (PRORATION 'Unused time on Team', -$40.00) credits rather",
        ),
        ("il_off", "line 4 of invoice ACME-0001 (DISCOUNT '20% off', -$90.00) is a DISCOUNT"),
    ],
)
def test_a_negative_or_discount_line_is_refused_naming_the_field(line_id: str, says: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        line_credits("ACME-0001", "USD", LINES, [("il_base", None), (line_id, None)])
    assert refused.value.field == "input.lines[1].invoiceLineId"
    assert (
        says in refused.value.reason and "line 3" in refused.value.reason or "line 4" in refused.value.reason
    )


def test_a_line_credited_in_full_or_asked_for_more_than_is_left_is_refused() -> None:
    with pytest.raises(InvoiceNotCreditable, match=r"at most \$50\.00 is left to credit on it"):
        line_credits("ACME-0001", "USD", LINES, [("il_seats", 50_01)])
    full = {**LINES, "il_seats": Line("il_seats", 1, LineKind.ADDON, "Seats", 150_00, 150_00)}
    with pytest.raises(InvoiceNotCreditable, match="credited in full already"):
        line_credits("ACME-0001", "USD", full, [("il_seats", None)])
