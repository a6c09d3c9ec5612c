"""Decoder results into the parameter archive, and decode failures onto the raw packets.

The glue between :class:`falak.tm.decoder.DecodeResult` and :class:`~falak.archive.base.Archive`
that both live processing and replay use: one parameter group per concrete container (its
qualified name), one column per decoded parameter or aggregate member (the column key), raw and
engineering values, monitoring level and presence mask as decoded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from falak.archive.base import Archive, ParameterColumn
from falak.tm.decoder import ContainerResult, DecodeResult

__all__ = ["container_columns", "write_decoded"]


def container_columns(result: ContainerResult) -> dict[str, ParameterColumn]:
    """Return the columns of one container result as :class:`ParameterColumn` by column key."""
    return {
        key: ParameterColumn(col.raw, col.eng, col.monitoring, col.present)
        for key, col in result.columns.items()
    }


def write_decoded(
    archive: Archive,
    result: DecodeResult,
    time_ns: NDArray[np.int64],
    *,
    packet_ids: NDArray[np.int64] | None = None,
) -> dict[str, int]:
    """Archive the parameters of a decoded batch; mark the packets that failed to decode.

    Parameters
    ----------
    archive
        Where to write.
    result
        What :meth:`falak.tm.decoder.Decoder.decode` returned for the batch.
    time_ns
        One time per packet of the batch (int64 ns since the epoch, UTC), e.g. the reception
        times of a :class:`~falak.archive.base.PacketBatch`.
    packet_ids
        The archive ids of the batch's packets; when given, failed packets get their reason as
        status (``"too_short"``, ``"no_container"``, ...).

    Returns
    -------
    dict
        Samples written per group.
    """
    times = np.asarray(time_ns, dtype=np.int64)
    written: dict[str, int] = {}
    for res in result.containers:
        idx = res.packet_index
        archive.write_parameters(res.container, times[idx], container_columns(res))
        written[res.container] = written.get(res.container, 0) + int(idx.size)
    if packet_ids is not None:
        ids = np.asarray(packet_ids, dtype=np.int64)
        fail_ids: list[NDArray[np.int64]] = []
        reasons: list[Any] = []
        for reason, idx in result.failed.items():
            if idx.size:
                fail_ids.append(ids[idx])
                reasons.extend([reason] * int(idx.size))
        if fail_ids:
            archive.set_packet_status(np.concatenate(fail_ids), reasons)
    return written
