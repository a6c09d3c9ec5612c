"""CCSDS 727.0-B-5 CCSDS File Delivery Protocol: falak's own CFDP entity, class 1 and 2.

falak implements the entity itself (:mod:`falak.cfdp.entity`, :mod:`falak.cfdp.pdu`) rather
than wrapping ``cfdp-py``: cfdp-py's handlers run one transaction each, read and write files
through a filestore, and time out on the wall clock (``spacepackets.countdown``), while falak's
simulators need many transactions at once in memory, timers on the simulated clock and
suspend/resume at contact boundaries. cfdp-py (with spacepackets' PDU codecs) is the
independent implementation falak is tested against, in both directions
(``tests/cfdp/test_interop.py``) and benchmarked beside (``benchmarks/cfdp.py``).

PDUs travel in CCSDS space packets (:func:`wrap`, :func:`unwrap`); a lossy, delayed link for
tests and simulators is :class:`falak.cfdp.link.LossyLink`.
"""

from falak.cfdp.entity import (
    TIMER_DEFAULTS,
    Entity,
    ReceivedFile,
    TransactionId,
    TransactionStatus,
    missing_ranges,
)
from falak.cfdp.link import LossyLink
from falak.cfdp.packets import unwrap, wrap
from falak.cfdp.pdu import checksum, decode_pdu, encode_pdu

__all__ = [
    "TIMER_DEFAULTS",
    "Entity",
    "LossyLink",
    "ReceivedFile",
    "TransactionId",
    "TransactionStatus",
    "checksum",
    "decode_pdu",
    "encode_pdu",
    "missing_ranges",
    "unwrap",
    "wrap",
]
