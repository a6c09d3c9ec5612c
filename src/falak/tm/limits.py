"""Limit checking over whole arrays, and the alarm transitions it produces.

A numeric alarm holds in-limits ranges per level (WATCH … SEVERE); a value outside the range
of a level is at least at that level, and the most severe violated level wins. Context alarms
replace the static ranges for the packets where their condition holds. Enumeration alarms
give a level per label. ``min_violations`` consecutive out-of-limits samples are needed before
a level is reported (samples before that stay NORMAL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from falak.mdb.model import (
    AlarmLevel,
    AlarmRanges,
    Condition,
    EnumerationAlarm,
    NumericAlarm,
    Range,
)

ConditionEvaluator = Callable[[Condition], NDArray[np.bool_]]


def _outside(rng: Range, x: NDArray[np.float64]) -> NDArray[np.bool_]:
    out = np.zeros(x.shape, dtype=bool)
    if rng.min is not None:
        out |= (x < rng.min) if rng.min_inclusive else (x <= rng.min)
    if rng.max is not None:
        out |= (x > rng.max) if rng.max_inclusive else (x >= rng.max)
    return out


def check_ranges(ranges: AlarmRanges, values: NDArray[np.generic]) -> NDArray[np.uint8]:
    """Return the alarm level (``AlarmLevel`` as uint8) of each value for static ranges.

    NaN values are reported at the most severe defined level: a value that cannot be
    compared is not in limits.
    """
    x = np.asarray(values, dtype=np.float64)
    level = np.zeros(x.shape, dtype=np.uint8)
    nan = np.isnan(x)
    for lvl, rng in ranges.items():  # least severe first, so later levels overwrite
        level[_outside(rng, x) | nan] = int(lvl)
    return level


def _apply_min_violations(level: NDArray[np.uint8], n: int) -> NDArray[np.uint8]:
    if n <= 1 or level.size == 0:
        return level
    bad = level > 0
    # length of the current run of consecutive out-of-limits samples, vectorised
    idx = np.arange(bad.size)
    last_good = np.maximum.accumulate(np.where(~bad, idx, -1))
    run = idx - last_good
    out = level.copy()
    out[run < n] = 0
    return out


def check_numeric(
    alarm: NumericAlarm,
    values: NDArray[np.generic],
    evaluate: ConditionEvaluator | None = None,
) -> NDArray[np.uint8]:
    """Alarm levels for a numeric parameter; context ranges override the static ones."""
    with np.errstate(invalid="ignore"):  # a signalling NaN from the wire stays a NaN
        x = np.asarray(values, dtype=np.float64)
    level = (
        check_ranges(alarm.static, x)
        if alarm.static is not None
        else np.zeros(x.shape, dtype=np.uint8)
    )
    if alarm.contexts and evaluate is not None:
        chosen = np.zeros(x.shape, dtype=bool)
        for condition, ranges in alarm.contexts:
            mask = evaluate(condition) & ~chosen
            if mask.any():
                level[mask] = check_ranges(ranges, x[mask])
            chosen |= mask
    return _apply_min_violations(level, alarm.min_violations)


def check_enumeration(
    alarm: EnumerationAlarm,
    labels: NDArray[np.object_],
    evaluate: ConditionEvaluator | None = None,
) -> NDArray[np.uint8]:
    """Alarm levels for an enumerated parameter, given its labels (engineering values)."""

    def levels_for(
        table: tuple[tuple[str, AlarmLevel], ...], lab: NDArray[np.object_]
    ) -> NDArray[np.uint8]:
        out = np.full(lab.shape, int(alarm.default), dtype=np.uint8)
        for label, lvl in table:
            out[lab == label] = int(lvl)
        return out

    lab = np.asarray(labels, dtype=object)
    level = levels_for(alarm.levels, lab)
    if alarm.contexts and evaluate is not None:
        chosen = np.zeros(lab.shape, dtype=bool)
        for condition, table in alarm.contexts:
            mask = evaluate(condition) & ~chosen
            if mask.any():
                level[mask] = levels_for(table, lab[mask])
            chosen |= mask
    return _apply_min_violations(level, alarm.min_violations)


@dataclass(frozen=True)
class AlarmTransition:
    """A change of a parameter's monitoring level at sample ``index``."""

    parameter: str
    index: int
    previous: AlarmLevel
    level: AlarmLevel
    value: object

    def __str__(self) -> str:
        return (
            f"{self.parameter}: {self.previous.name} -> {self.level.name} "
            f"at sample {self.index} (value {self.value!r})"
        )


def transitions(
    parameter: str,
    levels: NDArray[np.uint8],
    values: NDArray[np.generic],
    previous: AlarmLevel = AlarmLevel.NORMAL,
) -> list[AlarmTransition]:
    """List the level changes in a series, starting from ``previous`` (the last known level)."""
    if levels.size == 0:
        return []
    prev = np.empty_like(levels)
    prev[0] = int(previous)
    prev[1:] = levels[:-1]
    where = np.flatnonzero(levels != prev)
    return [
        AlarmTransition(
            parameter,
            int(i),
            AlarmLevel(int(prev[i])),
            AlarmLevel(int(levels[i])),
            values[i].item() if hasattr(values[i], "item") else values[i],
        )
        for i in where
    ]
