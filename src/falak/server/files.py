"""The ground's CFDP entity for one spacecraft: files down into the archive, files up.

A :class:`FileService` is the ground end of CCSDS File Delivery (727.0-B-5, falak's own
entity :class:`falak.cfdp.Entity`) with one spacecraft, configured by its ``cfdp:`` block
(:class:`~falak.server.config.CfdpConfig`):

- **down**: the processor hands it the raw packets of ``apid_down`` once they are archived
  (:meth:`falak.processor.Processor.tap`), so a PDU is never lost to the ground even when the
  entity rejects it. Their PDUs go to the entity; its answers (ACK, NAK, Finished) go up in
  space packets of ``apid_up`` through the spacecraft's uplink. Each file the entity
  delivers, whole or with missing byte ranges, is stored in the spacecraft's archive
  (:meth:`falak.archive.Archive.store_file`) under the transaction's key ``cfdp:SOURCE:SEQ``,
  with its name, size, the sender's checksum and how the transaction ended, and announced by
  an event; an incomplete file delivered later in whole replaces it (same id).
- **up**: :meth:`FileService.put` sends a file to the spacecraft (a camera table, a command
  stack), class 1 or 2, in ``apid_up`` packets.
- **contacts**: when the spacecraft has uplink windows (``uplink_windows:``, its predicted
  contacts), the entity's transactions are suspended outside them and resumed at their
  start, so a transfer cut by the end of a contact resumes at the next one instead of
  running out of NAK retries in the gap (§4.6.6 Suspend/Resume).

Timers run on the run's clock (simulated seconds in a scaled run, as the spacecraft's end
sees them); a thread ticks the entity every ``tick_s`` host seconds. The entity is not
thread-safe, so every call into it holds the service's lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from falak.archive import Archive
from falak.cfdp import Entity, ReceivedFile, TransactionId, TransactionStatus, unwrap, wrap
from falak.cfdp.pdu import ChecksumType
from falak.clock import Clock
from falak.errors import DecodeError, InputError
from falak.links.tc import TcUplink
from falak.server.config import CfdpConfig

if TYPE_CHECKING:
    from falak.planning.traverse.windows import UplinkWindows

__all__ = ["FileService"]

log = logging.getLogger(__name__)

_NS = 1_000_000_000


class FileService:
    """One spacecraft's ground CFDP entity (see the module doc).

    Parameters
    ----------
    spacecraft
        The spacecraft's name (the files' source).
    config
        Entity IDs, APIDs and timers.
    archive
        The spacecraft's archive, where received files go.
    uplink
        Where PDUs for the spacecraft go (None: receive only; class 2 then cannot be
        acknowledged, and :meth:`put` is refused).
    clock
        The run's clock: timers and file times.
    windows
        The spacecraft's contact windows (None: always in contact).
    event
        ``event(severity, message, **attrs)``: the spacecraft's event log (archive and bus).
    tick_s
        Host seconds between timer ticks.
    """

    def __init__(
        self,
        spacecraft: str,
        config: CfdpConfig,
        archive: Archive,
        uplink: TcUplink | None,
        clock: Clock,
        *,
        windows: UplinkWindows | None = None,
        event: Callable[..., Any] | None = None,
        tick_s: float = 0.05,
    ) -> None:
        self.spacecraft = spacecraft
        self.config = config
        self.archive = archive
        self.uplink = uplink
        self.clock = clock
        self.windows = windows
        self.tick_s = tick_s
        self._event = event
        self._lock = threading.RLock()
        self._seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._in_contact = True
        self.pdus_received = 0
        self.pdus_sent = 0
        self.files_stored = 0
        self.errors = 0
        timers: dict[str, Any] = dict(config.timers)  # checked by Entity (known names)
        self.entity = Entity(
            config.entity_id,
            self._send_pdu,
            now=lambda: self.clock.now_ns() / _NS,
            on_received=self._store,
            **timers,
        )

    def __repr__(self) -> str:
        c = self.config
        return (
            f"FileService({self.spacecraft}, entity {c.entity_id} <-> {c.remote_entity_id}, "
            f"APID {c.apid_down} down / {c.apid_up} up)"
        )

    # -- lifetime -----------------------------------------------------------------------

    def start(self) -> None:
        """Start ticking the entity's timers."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name=f"cfdp-{self.spacecraft}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop ticking (transactions stay as they are)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                self.tick()
            except Exception:  # a bug in one tick must not end file delivery
                self.errors += 1
                log.exception("CFDP tick failed for %s", self.spacecraft)

    def tick(self) -> None:
        """Follow the contact windows, then run the entity's timers once."""
        with self._lock:
            if self.windows is not None:
                now = self.clock.now_ns()
                inside = self.windows.at(now) is not None
                if inside != self._in_contact:
                    self._in_contact = inside
                    if inside:
                        self.entity.resume_all()
                    else:
                        self.entity.suspend_all()
                    self._note(
                        "info",
                        f"CFDP transactions {'resumed' if inside else 'suspended'}: contact "
                        f"{'starts' if inside else 'ends'}",
                    )
            self.entity.tick()

    # -- down ---------------------------------------------------------------------------

    def on_packets(self, packets: Sequence[bytes], recv_time_ns: NDArray[np.int64]) -> None:
        """Hand archived ``apid_down`` packets' PDUs to the entity (a :meth:`Processor.tap`)."""
        with self._lock:
            for p in packets:
                try:
                    pdu = unwrap(p, self.config.apid_down)
                except DecodeError:
                    self.entity.rejected["not a CFDP space packet"] += 1
                    continue
                self.pdus_received += 1
                self.entity.receive(pdu)

    def _store(self, f: ReceivedFile) -> None:
        try:
            kind = ChecksumType(f.checksum_type).name.lower()
        except ValueError:
            kind = f"type{f.checksum_type}"
        fid = self.archive.store_file(
            self.clock.now_ns(),
            f.name,
            f.data,
            source=f"{self.spacecraft} (CFDP entity {f.source_id})",
            checksum=f"{kind}:{f.checksum:08x}",
            complete=f.complete,
            missing=f.missing,
            key=f"cfdp:{f.source_id}:{f.transaction_seq}",
            transaction=[f.source_id, f.transaction_seq],
            condition=f.condition,
            source_name=f.source_name,
        )
        self.files_stored += 1
        if f.complete:
            self._note(
                "info", f"file {f.name} received: {f.size} bytes, checksum good", file_id=fid
            )
        else:
            lost = sum(b - a for a, b in f.missing)
            self._note(
                "warning",
                f"file {f.name} incomplete ({f.condition}): {lost} of {f.size} bytes missing "
                f"in {len(f.missing)} ranges",
                file_id=fid,
            )

    # -- up -----------------------------------------------------------------------------

    def _send_pdu(self, pdu: bytes) -> None:
        if self.uplink is None:
            return  # receive only: answers have nowhere to go
        self._seq = (self._seq + 1) & 0x3FFF
        self.uplink.send(wrap(pdu, self.config.apid_up, self._seq, packet_type=1))
        self.pdus_sent += 1

    def put(self, data: bytes, dest_name: str, *, cls: int = 2, user: str = "") -> TransactionId:
        """Send a file to the spacecraft as ``dest_name`` (class 1 or 2); return the
        transaction. Audited as an event naming the user."""
        if self.uplink is None:
            raise InputError(
                f"{self.spacecraft} has no uplink: configure 'uplink' to send files to it"
            )
        if not dest_name or dest_name.startswith("/") or ".." in dest_name.split("/"):
            raise InputError(
                f"file name {dest_name!r} must be a relative path without '..', "
                "e.g. tables/camera.tbl"
            )
        with self._lock:
            tid = self.entity.put(self.config.remote_entity_id, data, dest_name, cls=cls)
        self._note(
            "info",
            f"file {dest_name} ({len(data)} bytes) sent by {user or 'the ground'}, class {cls}",
            user=user,
            transaction=list(tid),
        )
        return tid

    def transactions(self) -> list[TransactionStatus]:
        """Every transaction the entity has seen, oldest first."""
        with self._lock:
            return self.entity.transactions()

    def _note(self, severity: str, message: str, **attrs: Any) -> None:
        if self._event is not None:
            self._event(severity, message, **attrs)
