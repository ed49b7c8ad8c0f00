from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from db.json_codec import dumps_exact, loads_exact

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.decimals(allow_nan=False, allow_infinity=False, places=6)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_round_trip_keeps_every_value_exactly(value: object) -> None:
    text = dumps_exact(value)
    json.loads(text)  # valid JSON for any other reader too
    assert loads_exact(text) == value


def test_decimal_digits_survive_including_trailing_zeros() -> None:
    text = dumps_exact({"Quantity": Decimal("1.2500"), "Price": Decimal("0.1")})
    assert text == '{"Quantity":1.2500,"Price":0.1}'
    assert str(loads_exact(text)["Quantity"]) == "1.2500"


def test_non_finite_and_unknown_values_are_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        dumps_exact({"x": Decimal("NaN")})
    with pytest.raises(TypeError):
        dumps_exact({"x": object()})
    with pytest.raises(TypeError):
        dumps_exact({1: "x"})
