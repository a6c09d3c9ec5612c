"""Calibration: raw values to engineering values, on whole arrays.

Calibrators are defined in the mission database (:mod:`falak.mdb.model`): polynomials,
interpolated tables (XTCE ``SplineCalibrator``) and context calibrators chosen by conditions
on other parameters. Every function here takes and returns numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from falak.mdb.model import (
    Calibrator,
    Condition,
    ContextCalibrator,
    PolynomialCalibrator,
    SplineCalibrator,
)

#: Evaluates a condition over the packets of a batch (supplied by the decoder).
ConditionEvaluator = Callable[[Condition], NDArray[np.bool_]]


def polynomial(coefficients: tuple[float, ...], raw: NDArray[np.generic]) -> NDArray[np.float64]:
    """Evaluate ``c0 + c1*x + c2*x**2 + ...`` by Horner's rule, in float64."""
    x = np.asarray(raw, dtype=np.float64)
    if not coefficients:  # XTCE allows a polynomial without terms: the value is 0
        return np.zeros(x.shape)
    if len(coefficients) == 2:  # the common linear case, one fused pass
        return coefficients[0] + coefficients[1] * x
    out = np.full(x.shape, float(coefficients[-1]) if coefficients else 0.0)
    for c in reversed(coefficients[:-1]):
        out *= x
        out += c
    return out


def spline(cal: SplineCalibrator, raw: NDArray[np.generic]) -> NDArray[np.float64]:
    """Interpolate ``raw`` in the calibrator's ``(raw, eng)`` table (order 0 or 1)."""
    x = np.asarray(raw, dtype=np.float64)
    xs = np.array([p[0] for p in cal.points], dtype=np.float64)
    ys = np.array([p[1] for p in cal.points], dtype=np.float64)
    if cal.order == 0:
        idx = np.searchsorted(xs, x, side="right") - 1
        out = ys[np.clip(idx, 0, len(ys) - 1)]
    else:  # orders above 1 are decoded as linear (validation warns)
        out = np.interp(x, xs, ys)
        if cal.extrapolate and len(xs) >= 2:
            lo = x < xs[0]
            hi = x > xs[-1]
            out = np.where(lo, ys[0] + (x - xs[0]) * (ys[1] - ys[0]) / (xs[1] - xs[0]), out)
            out = np.where(hi, ys[-1] + (x - xs[-1]) * (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]), out)
    if not cal.extrapolate:
        out = np.where((x < xs[0]) | (x > xs[-1]), np.nan, out)
    return np.asarray(out, dtype=np.float64)


def calibrate(
    cal: Calibrator,
    raw: NDArray[np.generic],
    evaluate: ConditionEvaluator | None = None,
) -> NDArray[np.float64]:
    """Apply a calibrator to an array of raw values.

    ``evaluate`` is needed only by context calibrators: it returns, for a condition, a boolean
    mask over the same packets as ``raw``.
    """
    if isinstance(cal, PolynomialCalibrator):
        return polynomial(cal.coefficients, raw)
    if isinstance(cal, SplineCalibrator):
        return spline(cal, raw)
    if isinstance(cal, ContextCalibrator):
        out = (
            calibrate(cal.default, raw, evaluate)
            if cal.default is not None
            else np.asarray(raw, dtype=np.float64).copy()
        )
        if evaluate is None:
            return out
        chosen = np.zeros(np.shape(raw), dtype=bool)
        for condition, sub in cal.contexts:
            mask = evaluate(condition) & ~chosen
            if mask.any():
                out[mask] = calibrate(sub, np.asarray(raw)[mask], None)
            chosen |= mask
        return out
    raise TypeError(f"unknown calibrator {type(cal).__name__}")
