"""What a simulated spacecraft model provides to the simulator runner (:mod:`falak.sim.spacecraft`).

The runner owns the sockets, the clock, the ground link (contacts, light time, recorder),
the CCSDS headers and sequence counts, the telecommand decoding and the acknowledgement
stages. A model owns the spacecraft's physics and state: it is stepped in simulated time,
returns the packets that fall due as (container name, values), executes decoded commands and
takes injected faults. It never touches a socket or the host clock, so it can be tested in
simulated time alone, and one runner flies every mission (station, testsat, rover, orbiter).

Values are *engineering* values keyed by parameter name (the short names of the container's
entries, as :class:`falak.tm.encoder.ContainerEncoder` takes them). The runner fills the
CCSDS primary header, the sequence count per APID and the on-board time parameter itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from falak.mdb import MissionDatabase

__all__ = [
    "AckStage",
    "CommandOutcome",
    "ContactWindow",
    "OnboardEvent",
    "SpacecraftModel",
    "TmPacket",
    "cmd_ack_packet",
    "event_tm_packet",
    "merge_windows",
]

AckStage = Literal["RECEIVED", "ACCEPTED", "COMPLETE", "FAILED"]
"""Acknowledgement stages, in the order flight software sends them (FAILED ends a command)."""


@dataclass(frozen=True)
class TmPacket:
    """One telemetry packet a model wants sent: its container and the values of its entries."""

    container: str
    values: Mapping[str, Any]
    time_ns: int | None = None
    """Simulated UTC at which the packet was generated (its on-board time); None: the time of
    the ``step`` that returned it. A model stepped over several packet periods at once (speed
    60) sets it so each packet keeps its own time."""


@dataclass(frozen=True)
class OnboardEvent:
    """An on-board event (sent in the mission's event packet)."""

    severity: str
    """One of the MDB's event severity labels, e.g. INFO, WARNING, DISTRESS, CRITICAL."""
    message: str
    source: str = "SYSTEM"
    event_id: int = 0


def cmd_ack_packet(
    command_apid: int, opcode: int, seq_count: int, stage: AckStage, reason: str
) -> TmPacket:
    """The CMD_ACK packet of one stage of a command, as falak's example MDBs define it
    (TIANGONG, ROVER, ORBITER: the command's APID, opcode and sequence count, the stage and
    its reason)."""
    return TmPacket(
        "CMD_ACK",
        {
            "ACK_APID": int(command_apid) & 0x7FF,
            "ACK_SPARE": 0,
            "ACK_OPCODE": int(opcode) & 0xFF,
            "ACK_SEQ_COUNT": int(seq_count) & 0x3FFF,
            "ACK_SPARE2": 0,
            "ACK_STAGE": stage,
            "ACK_REASON": reason,
        },
    )


def event_tm_packet(event: OnboardEvent, *, severity: str, source: str) -> TmPacket:
    """The EVENT packet of falak's example MDBs carrying ``event`` with its ``severity`` and
    ``source`` labels as the MDB knows them (the message cut to the 255-byte field)."""
    text = event.message.encode("utf-8")[:255].decode("utf-8", "ignore")
    return TmPacket(
        "EVENT",
        {
            "EVENT_ID": int(event.event_id) & 0xFFFF,
            "EVENT_SEVERITY": severity,
            "EVENT_SOURCE": source,
            "EVENT_MESSAGE": text,
        },
    )


@dataclass(frozen=True)
class CommandOutcome:
    """What executing a command came to.

    ``ok`` False means the command was refused by the model (state does not allow it, a
    fault): the runner sends FAILED with ``reason`` and an event saying ``message``.
    ``complete_after_s`` delays the COMPLETE stage by that many simulated seconds (a slew,
    a heater ramp); ``packets`` and ``events`` are sent at once.
    """

    ok: bool = True
    reason: str = "OK"
    """An AckReason label of the MDB (e.g. OK, NOT_ALLOWED_IN_STATE)."""
    message: str = ""
    complete_after_s: float = 0.0
    packets: list[TmPacket] = field(default_factory=list)
    events: list[OnboardEvent] = field(default_factory=list)
    finish: Callable[[int], CommandOutcome | None] | None = field(default=None, compare=False)
    """For an activity whose end the model decides (a rover drive that may stop on a hazard):
    from ``complete_after_s`` on, the runner calls ``finish(now_ns)`` after every step until it
    returns an outcome, then sends COMPLETE (``ok``) or FAILED with its reason and an event
    saying its message (and its packets and events). None: COMPLETE at ``complete_after_s``."""


@dataclass(frozen=True)
class ContactWindow:
    """A stretch of simulated time during which the ground hears the spacecraft."""

    start_ns: int
    stop_ns: int
    via: str
    """Ground station or relay name, e.g. "Karachi" or "TL-1 (relay)"."""
    light_time_s: float = 0.0
    """One-way light time spacecraft -> ground during the window (relay hop included)."""


def merge_windows(windows: Sequence[ContactWindow]) -> list[ContactWindow]:
    """Merge overlapping contact windows: the union, named by its stations or links (joined
    with " + "), with the longest light time of those merged."""
    out: list[ContactWindow] = []
    for w in sorted(windows, key=lambda w: (w.start_ns, w.stop_ns)):
        if out and w.start_ns <= out[-1].stop_ns:
            last = out[-1]
            vias = last.via.split(" + ")
            via = last.via if w.via in vias else f"{last.via} + {w.via}"
            out[-1] = ContactWindow(
                last.start_ns,
                max(last.stop_ns, w.stop_ns),
                via,
                max(last.light_time_s, w.light_time_s),
            )
        else:
            out.append(w)
    return out


class SpacecraftModel(Protocol):
    """A spacecraft as the runner flies it (see the module doc)."""

    name: str
    """Spacecraft name, the MDB's root name (e.g. TIANGONG)."""
    mdb: MissionDatabase

    def step(self, now_ns: int) -> list[TmPacket]:
        """Advance the model to simulated UTC ``now_ns``; return the packets due by then."""
        ...

    def execute(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        """Execute a decoded, range-checked command (short name, engineering arguments)."""
        ...

    def inject_fault(self, fault: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        """Inject (or clear, with CLEAR_ALL) a fault named in the MDB's simulator commands."""
        ...

    def contact_windows(self, start_ns: int, stop_ns: int) -> list[ContactWindow]:
        """Return the contact windows between ``start_ns`` and ``stop_ns``, in time order."""
        ...

    def ack_packet(
        self, command_apid: int, opcode: int, seq_count: int, stage: AckStage, reason: str
    ) -> TmPacket:
        """Return the acknowledgement packet of one stage of a command."""
        ...

    def event_packet(self, event: OnboardEvent) -> TmPacket:
        """Return the event packet carrying ``event``."""
        ...
