"""Telecommands, pure part: encode commands from the MDB and evaluate verifiers.

:mod:`falak.tc.encoder` validates and calibrates arguments and lays out command packets;
:mod:`falak.tc.verification` evaluates verification stages over parameter values. The runtime
(queues, release, links, history) is :mod:`falak.commanding`.
"""

from __future__ import annotations

from falak.tc.encoder import (
    CommandEncoder,
    EncodedCommand,
    EncodedField,
    inverse_calibrate,
    set_sequence_count,
)
from falak.tc.verification import (
    Outcome,
    StageResult,
    Value,
    Verification,
    evaluate,
    parse_condition,
)

__all__ = [
    "CommandEncoder",
    "EncodedCommand",
    "EncodedField",
    "Outcome",
    "StageResult",
    "Value",
    "Verification",
    "evaluate",
    "inverse_calibrate",
    "parse_condition",
    "set_sequence_count",
]
