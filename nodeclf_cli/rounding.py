"""Decimal rounding the way a person rounds.

A float such as the computed logit 0.68500000000000005 is the decimal 0.685 plus
binary noise. People round the decimal, so every value is first *snapped* to 12
significant digits (which removes the noise, ~1e-16 relative) and then rounded in
decimal arithmetic, half-up (school rounding: ties away from zero, 0.685 -> 0.69,
-0.685 -> -0.69) or half-even (0.685 -> 0.68). A value that lay exactly half-way
after snapping is reported as a tie, so tables can mark it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal

import numpy as np

ROUNDING_MODES = {"half-up": ROUND_HALF_UP, "half-even": ROUND_HALF_EVEN}
SNAP_DIGITS = 12
HUGE = Decimal("1e15")  # from here on numbers are written as 4.1012e+138, not in 139 digits
# Enough digits to write any float64 (up to 1.8e308) to many decimals without error.
_CONTEXT = Context(prec=400)


@dataclass(frozen=True)
class Precision:
    """How many digits to keep: ``decimals`` places after the point, or ``sig_figs``
    significant figures (exactly one of the two), rounded by ``rounding``."""

    decimals: int | None = 2
    sig_figs: int | None = None
    rounding: str = "half-up"

    def __post_init__(self) -> None:
        if (self.decimals is None) == (self.sig_figs is None):
            raise ValueError("give exactly one of decimals and sig_figs")
        if self.rounding not in ROUNDING_MODES:
            raise ValueError(f"rounding must be one of {sorted(ROUNDING_MODES)}")

    def finer(self, extra: int) -> Precision:
        """The same kind of precision with ``extra`` more digits (used for the loss)."""
        if self.decimals is not None:
            return Precision(decimals=self.decimals + extra, rounding=self.rounding)
        return Precision(decimals=None, sig_figs=self.sig_figs + extra, rounding=self.rounding)

    def describe(self) -> str:
        """For captions: "2 decimals, half-up"."""
        return f"{digits_words(self)}, {self.rounding}"


@dataclass(frozen=True)
class Rounded:
    """A rounded value: ``value`` as a Decimal, ``text`` as written, and whether the
    snapped value lay exactly half-way (``tie``), with ``snapped`` for footnotes."""

    value: Decimal
    text: str
    tie: bool
    snapped: Decimal


def snap(x: float, digits: int = SNAP_DIGITS) -> Decimal:
    """The decimal a float stands for: ``x`` to 12 significant digits (or ``digits``).

    >>> snap(0.68500000000000005)
    Decimal('0.685')
    """
    return Decimal(format(float(x), f".{digits}g"))


def _exponent(value: Decimal, precision: Precision) -> int:
    """The power of ten of the last digit kept."""
    if precision.decimals is not None:
        return -precision.decimals
    if value == 0:
        return 0
    return value.adjusted() - precision.sig_figs + 1


def round_value(x: float, precision: Precision) -> Rounded:
    """Round ``x`` to ``precision`` in decimal after snapping away binary noise.

    >>> round_value(0.68500000000000005, Precision(decimals=2)).text
    '0.69'
    >>> round_value(0.68500000000000005, Precision(decimals=2, rounding="half-even")).text
    '0.68'
    """
    if not math.isfinite(x):
        text = "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
        return Rounded(Decimal(text), text, False, Decimal(text))
    snapped = snap(x)
    if precision.decimals is not None and snapped.adjusted() + 1 + precision.decimals > SNAP_DIGITS:
        # a large number: keep every digit up to the one rounded to (17 is all a float has)
        snapped = snap(x, min(17, snapped.adjusted() + 2 + precision.decimals))
    exponent = _exponent(snapped, precision)
    quantum = Decimal(1).scaleb(exponent)
    rounded = snapped.quantize(
        quantum, rounding=ROUNDING_MODES[precision.rounding], context=_CONTEXT
    )
    if precision.sig_figs is not None and rounded.adjusted() > snapped.adjusted():
        # 9.96 to 2 significant figures is 10, not 10.0
        rounded = rounded.quantize(quantum.scaleb(1), context=_CONTEXT)
    if rounded.is_zero():
        rounded = rounded.copy_abs()  # a person writes 0.00, not -0.00
    truncated = snapped.quantize(quantum, rounding=ROUND_DOWN, context=_CONTEXT)
    tie = _CONTEXT.subtract(snapped, truncated).copy_abs() == Decimal(5).scaleb(exponent - 1)
    if rounded.copy_abs() >= HUGE:
        digits = precision.decimals if precision.decimals is not None else precision.sig_figs - 1
        return Rounded(rounded, format(snapped, f".{max(digits, 1)}e"), tie, snapped)
    return Rounded(rounded, format(rounded, "f"), tie, snapped)


def full(x: float) -> str:
    """A value as worked out, to 6 significant digits (0.685, 0.330151, -0.0675447);
    in powers of ten where that would take more than 16 digits (1e+150, 2.5e-20)."""
    digits = format(float(x), ".6g")
    if x != 0 and not 1e-6 <= abs(x) < 1e16:
        return digits
    return format(Decimal(digits), "f")


def neighbours(x: float, decimals: int) -> tuple[str, str]:
    """The two numbers of ``decimals`` places around ``x`` (snapped): for a tie such as
    0.685, ("0.68", "0.69")."""
    quantum = Decimal(1).scaleb(-decimals)
    low = snap(x).quantize(quantum, rounding=ROUND_FLOOR, context=_CONTEXT)
    return format(low, "f"), format(_CONTEXT.add(low, quantum), "f")


def round_array(values: np.ndarray, precision: Precision) -> np.ndarray:
    """Each entry rounded as :func:`round_value`, back as float64 (for carrying).

    To decimal places, in whole-number arithmetic on the snapped digits: x is
    M * 10^(e - 11) with M the 12 significant digits (snapping), and rounding to d places
    is M divided by 10^(11 - e - d), the remainder compared with half of that, ties by
    the rounding mode; the result q / 10^d is the float nearest the rounded decimal, as
    ``float(Decimal(text))``. Entries where that arithmetic could differ from the decimal
    one (a 12th digit within a hair of half-way, infinities, huge numbers, significant
    figures) go through :func:`round_value`: the result is the same, ~50x faster."""
    x = np.asarray(values, dtype=np.float64)
    out = np.empty(x.shape)
    flat, result = x.reshape(-1), out.reshape(-1)
    slow = np.ones(flat.shape, bool)
    if precision.decimals is not None and precision.decimals <= 15 and flat.size:
        slow = _round_decimals(flat, precision.decimals, precision.rounding == "half-up", result)
    for i in np.flatnonzero(slow):
        result[i] = float(round_value(float(flat[i]), precision).value)
    return out


def _round_decimals(x: np.ndarray, decimals: int, half_up: bool, result: np.ndarray) -> np.ndarray:
    """Round ``x`` to ``decimals`` places into ``result`` where it can be done exactly in
    whole numbers (see :func:`round_array`); returns the mask of entries it left."""
    size = np.abs(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        e = np.floor(np.log10(size))
        scaled = size * 10.0 ** (11 - e)
        mantissa = np.round(scaled)
        fraction = np.abs(scaled - np.floor(scaled) - 0.5)
    shift = 11 - e - decimals  # the digits of M below the last decimal kept
    usable = (
        np.isfinite(scaled) & (mantissa >= 1e11) & (mantissa < 1e12)  # e was right
        & (fraction > 1e-3)  # snapping is not in doubt
        & (shift >= 0) & (shift <= 15)  # M / 10^shift in int64 arithmetic
    )
    zero = size == 0
    result[zero] = 0.0
    keep = usable & ~zero
    M = mantissa[keep].astype(np.int64)
    unit = (10 ** shift[keep].astype(np.int64)).astype(np.int64)
    q, r = np.divmod(M, unit)
    twice = 2 * r
    up = (twice > unit) | ((twice == unit) & (half_up | (q % 2 == 1)))
    q = q + up
    result[keep] = np.sign(x[keep]) * q / 10.0**decimals
    result[keep & (result == 0)] = 0.0  # a person writes 0.00, not -0.00
    return ~(keep | zero)


LOSS_EXTRA_DIGITS = 2  # a loss near 1 is written with 2 more digits than a probability


@dataclass(frozen=True)
class Requirement:
    """The working precision a problem requires: ``values`` for every quantity, ``losses``
    for the losses (finer: a loss near 1 needs more digits than a probability).
    The default is what ``step`` shows by default: 2 decimals, the losses 4."""

    values: Precision = Precision(decimals=2)
    losses: Precision = Precision(decimals=2 + LOSS_EXTRA_DIGITS)

    @classmethod
    def from_values(cls, values: Precision, losses: Precision | None = None) -> Requirement:
        """Values at ``values``; the losses at ``losses``, else LOSS_EXTRA_DIGITS more."""
        return cls(values, losses or values.finer(LOSS_EXTRA_DIGITS))

    def of(self, loss: bool) -> Precision:
        return self.losses if loss else self.values

    @property
    def loss_gap(self) -> int:
        """How many more digits the losses have than the values (2 by default)."""
        if self.values.decimals is not None and self.losses.decimals is not None:
            return max(self.losses.decimals - self.values.decimals, 0)
        if self.values.sig_figs is not None and self.losses.sig_figs is not None:
            return max(self.losses.sig_figs - self.values.sig_figs, 0)
        return 0

    def describe(self) -> str:
        """"2 decimals (the losses 4)" or "3 significant figures (the losses 5)"."""
        values = self.values.describe().rsplit(",", 1)[0]
        losses = self.losses.decimals if self.losses.decimals is not None else self.losses.sig_figs
        return f"{values} (the losses {losses})"


def written_digits(text: str, decimals: int) -> tuple[int, int]:
    """(decimals, significant figures) a number written as ``text`` claims when read to
    ``decimals`` places (its row's precision: 0.4 among 0.47 is 0.40)."""
    value = Decimal(text.strip()).quantize(Decimal(1).scaleb(-decimals), context=_CONTEXT)
    digits = len(value.as_tuple().digits) if not value.is_zero() else 1
    return decimals, digits


def at_least(precision: Precision, required: Precision) -> bool:
    """Whether working at ``precision`` keeps at least the digits ``required`` asks for."""
    if required.decimals is not None:
        return precision.decimals is not None and precision.decimals >= required.decimals
    return precision.sig_figs is not None and precision.sig_figs >= required.sig_figs


def digits_words(precision: Precision) -> str:
    """"2 decimals", "1 decimal", "3 significant figures"."""
    if precision.decimals is not None:
        return f"{precision.decimals} decimal{'s' if precision.decimals != 1 else ''}"
    return f"{precision.sig_figs} significant figure{'s' if precision.sig_figs != 1 else ''}"


def coarser_than(text: str, decimals: int, required: Precision) -> bool:
    """Whether a number written as ``text`` (read to ``decimals`` places) has fewer
    digits than ``required``."""
    places, figures = written_digits(text, decimals)
    if required.decimals is not None:
        return places < required.decimals
    return figures < required.sig_figs
