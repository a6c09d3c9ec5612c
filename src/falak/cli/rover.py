"""``falak rover``: the rover's products on the ground (``images``: navcam images, archive)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from falak.mdb.model import MissionDatabase

rover_app = typer.Typer(
    help="The rover's products on the ground: its navigation-camera images rebuilt from the "
    "archive.",
    no_args_is_help=True,
)

_ROVER_MDB = Path(__file__).resolve().parents[1] / "missions" / "rover" / "mdb.yaml"
_BATCH = 20_000


def _apid_of(mdb: MissionDatabase, container: str) -> int | None:
    """The APID a container is restricted to (``APID == N`` on its base), or None."""
    from falak.mdb.model import AllOf, Comparison

    for c in mdb.containers.values():
        if c.name != container:
            continue
        todo: list[Any] = [c.restriction]
        while todo:
            x = todo.pop()
            if isinstance(x, Comparison) and x.operator == "==" and not x.ref.member:
                if x.ref.parameter.rsplit("/", 1)[-1] == "APID":
                    return int(x.value, 0)
            elif isinstance(x, AllOf):
                todo.extend(x.conditions)
    return None


def images_command(
    archive: Annotated[
        str,
        typer.Option(
            "--archive",
            help="Archive: a directory (embedded SQLite) or postgresql://user@host:port/db.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory for the PGM files and index.json.")],
    spacecraft: Annotated[
        str | None,
        typer.Option(
            "--spacecraft",
            help="The rover's part of the archive (falak serve and falak demo keep each "
            "spacecraft apart: ROVER). Without it, the archive root.",
        ),
    ] = None,
    mdb_path: Annotated[
        Path,
        typer.Option("--mdb", help="The rover's mission database (default: falak's ROVER MDB)."),
    ] = _ROVER_MDB,
    start: Annotated[
        str | None, typer.Option("--start", help="Packets received from this UTC time (ISO).")
    ] = None,
    stop: Annotated[
        str | None, typer.Option("--stop", help="Packets received before this UTC time (ISO).")
    ] = None,
) -> None:
    """Rebuild the navigation-camera images from the archived NAVCAM_IMAGE packets.

    Each image (a camera of a stereo pair, segmented over packets by the MDB) becomes
    navcam-NNNNN-CAMERA.pgm (8-bit binary PGM) in --out, with index.json: per image its
    on-board time, the rover's estimated pose when it was taken, exposure, segments missing
    (an incomplete image is written with zeros there) and the SHA-256 of its pixels
    (format falak-images/1, see falak.tm.images).
    """
    from falak.archive import open_archive
    from falak.errors import FalakError
    from falak.mdb import load
    from falak.tm.decoder import Decoder
    from falak.tm.images import NAVCAM, assemble, columns_of, write_images
    from falak.utctime import parse_ns

    try:
        start_ns = parse_ns(start, "--start") if start else None
        stop_ns = parse_ns(stop, "--stop") if stop else None
        mdb = load(mdb_path)
        apid = _apid_of(mdb, NAVCAM.container)
        decoder = Decoder(mdb)
        columns: dict[str, list[Any]] = {}
        with open_archive(archive, create=False, spacecraft=spacecraft) as store:
            for batch in store.read_packets(
                start_ns, stop_ns, apids=None if apid is None else [apid], batch_size=_BATCH
            ):
                result = decoder.decode(batch.data, batch.offsets, batch.lengths)
                try:
                    container = result.container(NAVCAM.container)
                except KeyError:
                    continue
                for name, values in columns_of(container).items():
                    columns.setdefault(name, []).extend(list(values))
        images = assemble(columns) if columns else []
        index = write_images(images, out)
    except (FalakError, OSError) as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(1) from None
    n_bad = sum(1 for e in index["images"] if not e["complete"])
    typer.echo(f"wrote {len(images)} images to {out} ({n_bad} incomplete) and {out / 'index.json'}")


def register(app: typer.Typer) -> None:
    """Add the ``rover`` group to the ``falak`` command."""
    rover_app.command("images")(images_command)
    app.add_typer(rover_app, name="rover")
