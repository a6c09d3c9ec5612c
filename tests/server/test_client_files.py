"""falak.client's files, file_bytes, transfers and send_file against a real uvicorn server whose
TESTSAT has CFDP file delivery, with a CFDP entity on loopback UDP as the spacecraft (the one
of test_files_cfdp). The truth is the spacecraft side: the bytes it sent and the bytes it got."""

from __future__ import annotations

import hashlib
import random
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from falak.client import ApiError, Client, FileInfo, Transfer
from falak.errors import FalakError
from falak.server import Runtime, create_app, load_config, uvicorn_config
from tests.server.conftest import RealServer, wait_for
from tests.server.test_config import TESTSAT_MDB
from tests.server.test_files_cfdp import Spacecraft


class Served:
    def __init__(self, url: str, rt: Runtime, sc: Spacecraft) -> None:
        self.url, self.rt, self.sc = url, rt, sc


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    import uvicorn

    tmp = tmp_path_factory.mktemp("client_files")
    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    up.bind(("127.0.0.1", 0))
    cfg = tmp / "server.yaml"
    cfg.write_text(
        f"""archive: ./archive
users:
  - {{name: otto, roles: [operator], password: otto-pw}}
  - {{name: vera, roles: [viewer], password: vera-pw}}
spacecraft:
  - name: TESTSAT
    mdb: {TESTSAT_MDB}
    links: [udp://127.0.0.1:0]
    uplink: udp://127.0.0.1:{up.getsockname()[1]}
    cfdp:
      entity_id: 1
      remote_entity_id: 2
      timers: {{nak_interval_s: 0.5, ack_interval_s: 0.5}}
"""
    )
    rt = Runtime.from_config(load_config(cfg))
    rt.start()
    sc = Spacecraft(rt.get("TESTSAT").processor.links["udp0"].port, up)  # type: ignore[attr-defined]
    sc.thread.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn_config(create_app(rt)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: server.started, 10.0), "uvicorn did not start"
        yield Served(f"http://127.0.0.1:{sock.getsockname()[1]}", rt, sc)
    finally:
        server.should_exit = True
        thread.join(10.0)
        sock.close()
        sc.stop.set()
        sc.thread.join()
        sc.out.close()
        rt.stop()
        up.close()


def test_a_file_comes_down_and_one_goes_up_through_the_client(served: Served) -> None:
    image = random.Random(15).randbytes(60_000)
    before = datetime.now(UTC) - timedelta(seconds=1)
    with served.sc.lock:
        served.sc.entity.put(1, image, "img/nac_0002.pgm", cls=2, segment_size=1000)
    with Client.login(served.url, "vera", "vera-pw") as vera:
        assert wait_for(lambda: vera.files(), 20.0)
        (f,) = vera.files()
        assert isinstance(f, FileInfo)
        assert (f.name, f.size, f.complete, f.missing) == ("img/nac_0002.pgm", 60_000, True, [])
        assert f.source == "TESTSAT (CFDP entity 2)"
        assert f.sha256 == hashlib.sha256(image).hexdigest()
        assert f.checksum.startswith("modular:")
        assert f.time is not None
        # the time range selects by the time of the file's last part
        assert [x.id for x in vera.files(start=before)] == [f.id]
        assert vera.files(stop=before) == []
        assert vera.file_bytes(f.id) == image
        with pytest.raises(ApiError) as info:
            vera.file_bytes(987_654)
        assert info.value.status == 404
        with pytest.raises(FalakError, match="no time zone"):
            vera.files(start=datetime(2026, 1, 1))

        assert wait_for(lambda: [t.state for t in vera.transfers()] == ["finished"], 20.0)
        (down,) = vera.transfers()
        assert isinstance(down, Transfer)
        assert (down.role, down.name, down.size, down.progress) == (
            "receive", "img/nac_0002.pgm", 60_000, 60_000,
        )  # fmt: skip
        assert (down.source_id, down.peer_id, down.cls, down.condition) == (2, 2, 2, "NO_ERROR")

        table = b"EXPOSURE_MS,GAIN\n8,1\n"
        with pytest.raises(ApiError) as info:
            vera.send_file(table, "tables/camera.tbl")  # a viewer may not
        assert info.value.status == 403
    with Client.login(served.url, "otto", "otto-pw") as otto:
        up = otto.send_file(table, "tables/camera.tbl")
        assert (up.role, up.name, up.size, up.cls, up.source_id) == (
            "send", "tables/camera.tbl", len(table), 2, 1,
        )  # fmt: skip
        assert wait_for(lambda: served.sc.received == [("tables/camera.tbl", table)], 20.0), (
            served.sc.received,
            otto.transfers(),
            served.sc.entity.transactions(),
        )
        assert wait_for(
            lambda: (
                sorted((t.role, t.state) for t in otto.transfers())
                == [("receive", "finished"), ("send", "finished")]
            ),
            20.0,
        ), otto.transfers()
        with pytest.raises(ApiError) as info:
            otto.send_file(b"x", "../etc/x")
        assert info.value.status == 400
        with pytest.raises(FalakError, match="class must be 1 or 2"):
            otto.send_file(b"x", "x.bin", cls=3)


def test_transfers_of_a_spacecraft_without_file_delivery_is_a_clear_error(
    real_server: RealServer,
) -> None:
    url = real_server.url
    with Client.login(url, "vera", "vera-pw") as vera:
        assert vera.files() == []
        with pytest.raises(ApiError) as info:
            vera.transfers()
    assert info.value.status == 404  # the route names the missing cfdp: block
    assert "no file delivery with TESTSAT" in info.value.detail


def test_a_damaged_download_is_refused(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    with Client.login(served.url, "vera", "vera-pw") as vera:
        files = vera.files()
        assert files, "runs after the transfer test (module order)"
        real = vera._http.request

        def flip(*a: object, **kw: object) -> object:
            r = real(*a, **kw)  # type: ignore[arg-type]
            r._content = bytes([r.content[0] ^ 1]) + r.content[1:]
            return r

        monkeypatch.setattr(vera._http, "request", flip)
        with pytest.raises(FalakError, match="the download was damaged"):
            vera.file_bytes(files[0].id)
