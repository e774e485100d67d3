"""Input rules shared by the use cases: ISO 4217, IANA, ISO 3166, clear field paths."""

from __future__ import annotations

import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.kernel.errors import ValidationFailed
from models.tenants.service import TenantCreate

BASE = {"name": "T", "email": "t@t.example", "currency": "USD"}
ISO_CURRENCIES = sorted(c.alpha_3 for c in pycountry.currencies)


@given(st.sampled_from(ISO_CURRENCIES), st.booleans())
def test_every_iso_4217_code_is_accepted_in_any_case(code: str, lower: bool) -> None:
    spec = TenantCreate.parse({**BASE, "currency": code.lower() if lower else code})
    assert spec.currency == code


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=5))
def test_anything_else_is_refused_with_a_hint(code: str) -> None:
    if code in ISO_CURRENCIES:
        return
    with pytest.raises(ValidationFailed) as failure:
        TenantCreate.parse({**BASE, "currency": code})
    assert failure.value.field == "input.currency"
    assert "such as USD, EUR or JPY" in failure.value.reason


@pytest.mark.parametrize("tz", ["UTC", "Asia/Tokyo", "America/Argentina/Buenos_Aires"])
def test_iana_timezones_are_accepted(tz: str) -> None:
    assert TenantCreate.parse({**BASE, "timezone": tz}).timezone == tz


@pytest.mark.parametrize("tz", ["JST", "+09:00", "asia/tokyo", ""])
def test_other_timezone_spellings_are_refused(tz: str) -> None:
    with pytest.raises(ValidationFailed, match="input.timezone"):
        TenantCreate.parse({**BASE, "timezone": tz})


def test_nested_fields_are_named_by_their_api_path() -> None:
    with pytest.raises(ValidationFailed) as failure:
        TenantCreate.parse(
            {**BASE, "billing_info": {"address": {"line1": "x", "city": "y", "country": "XX"}}}
        )
    assert failure.value.field == "input.billingInfo.address.country"


def test_unknown_fields_are_refused_not_ignored() -> None:
    with pytest.raises(ValidationFailed, match="input.colour"):
        TenantCreate.parse({**BASE, "colour": "red"})
