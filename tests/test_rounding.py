"""Decimal rounding as a person rounds: ties, signs, significant figures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodeclf_cli.rounding import Precision, round_array, round_value, snap

TWO = Precision(decimals=2)
EVEN = Precision(decimals=2, rounding="half-even")


def text(x, precision=TWO):
    return round_value(x, precision).text


def test_the_articles_float_ties_are_decimal_ties():
    # the computed logits are 0.68500000000000005 and 0.23500000000000004
    h = 0.5 * 0.17 + 0.6 * 0.4 + 0.7 * -0.14 + 0.8 * 0.51 + 0.05
    assert snap(h) == snap(0.685)
    assert text(0.68500000000000005) == "0.69" and round_value(0.68500000000000005, TWO).tie
    assert text(0.23500000000000004) == "0.24"
    assert text(0.68500000000000005, EVEN) == "0.68"
    assert text(0.23500000000000004, EVEN) == "0.24"


def test_binary_value_below_the_tie_still_rounds_as_the_decimal():
    # float(0.125) is exact; float(2.675) is 2.67499999999999982236431605997495353221893310546875
    assert text(2.675) == "2.68"
    assert text(2.675, EVEN) == "2.68"
    assert text(0.125) == "0.13"
    assert text(0.125, EVEN) == "0.12"


def test_negative_ties_round_away_from_zero_half_up():
    assert text(-0.685) == "-0.69"
    assert text(-0.685, EVEN) == "-0.68"
    assert text(-0.675, EVEN) == "-0.68"


def test_non_ties_are_not_marked():
    assert not round_value(0.619, TWO).tie
    assert text(0.619) == "0.62"
    assert not round_value(0.6851, TWO).tie


def test_negative_zero_is_written_as_zero():
    assert text(-0.001) == "0.00"
    assert text(-0.0) == "0.00"


def test_trailing_zeros_are_kept():
    assert text(0.4) == "0.40"
    assert text(0.9) == "0.90"
    assert round_value(1.1464926025, Precision(decimals=4)).text == "1.1465"


@pytest.mark.parametrize(
    "x, sig, expected",
    [
        (-0.067545, 2, "-0.068"),
        (-0.112552, 2, "-0.11"),
        (0.007751, 2, "0.0078"),
        (0.0000123456, 3, "0.0000123"),
        (12345.0, 2, "12000"),
        (987654321.0, 3, "988000000"),
        (9.96, 2, "10"),
        (0.0996, 2, "0.10"),
        (0.0, 2, "0"),
        (0.685, 2, "0.69"),
        (-0.155039, 2, "-0.16"),
    ],
)
def test_significant_figures(x, sig, expected):
    assert text(x, Precision(decimals=None, sig_figs=sig)) == expected


def test_sig_fig_ties_follow_the_mode():
    assert text(0.0125, Precision(decimals=None, sig_figs=2)) == "0.013"
    assert text(0.0125, Precision(decimals=None, sig_figs=2, rounding="half-even")) == "0.012"


def test_huge_and_non_finite_values_do_not_overflow():
    assert text(1e308) == "1.00e+308"
    assert text(-4.1012345e138, Precision(decimals=4)) == "-4.1012e+138"
    assert text(123456789012345.0) == "123456789012345.00"  # below 1e15: written out
    assert text(float("inf")) == "inf"
    assert text(float("nan")) == "nan"


def test_round_array_keeps_shape_and_rounds_each_entry():
    values = np.array([[0.685, 0.235], [-0.685, 0.619]])
    assert round_array(values, TWO).tolist() == [[0.69, 0.24], [-0.69, 0.62]]


def test_precision_needs_exactly_one_kind():
    with pytest.raises(ValueError):
        Precision(decimals=2, sig_figs=2)
    with pytest.raises(ValueError):
        Precision(decimals=2, rounding="up")
    assert Precision(decimals=2).finer(2) == Precision(decimals=4)
    assert Precision(decimals=None, sig_figs=2).finer(2).sig_figs == 4


@settings(max_examples=3000, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.floats(-10, 10),
            st.integers(-10**6, 10**6).map(lambda k: k / 1000),  # exact decimals: ties after scaling
            st.integers(-10**4, 10**4).map(lambda k: k / 8),  # exact binary halves
        ),
        min_size=1,
        max_size=20,
    ),
    decimals=st.integers(0, 15),
    rounding=st.sampled_from(["half-up", "half-even"]),
)
def test_round_array_is_round_value_entry_by_entry(values, decimals, rounding):
    """The whole-number fast path of round_array gives what the decimal arithmetic of
    round_value gives, bit for bit, ties and signs included."""
    precision = Precision(decimals=decimals, rounding=rounding)
    fast = round_array(np.array(values), precision)
    for got, x in zip(fast, values):
        want = float(round_value(x, precision).value)
        assert (got == want and np.signbit(got) == np.signbit(want)) or (np.isnan(got) and np.isnan(want)), x
