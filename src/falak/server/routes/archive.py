"""``/archive/export``: parameters aligned by time as CSV or JSON; ``/archive/files``: the
files received from the spacecraft (CFDP transfers), listed with their metadata and
downloaded byte for byte."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel

from falak.archive import StoredFile
from falak.errors import InputError
from falak.server.auth import User
from falak.server.files import FileService
from falak.server.routes.deps import CurrentUser, SpacecraftDep, require
from falak.server.routes.telemetry import Start, Stop, time_range
from falak.server.schemas import iso
from falak.tm.tabular import format_column

router = APIRouter(prefix="/archive", tags=["archive"])
Operator = Annotated[User, Depends(require("operator"))]


@router.get(
    "/export",
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
    response_class=Response,
)
def export(
    rt: SpacecraftDep,
    user: CurrentUser,
    names: Annotated[list[str], Query(min_length=1, description="Parameters to export")],
    start: Start = None,
    stop: Stop = None,
    format: Literal["csv", "json"] = "csv",
    raw: bool = False,
) -> Response:
    """Archived parameters aligned by time (first column ``time``, UTC); empty cells where a
    parameter had no value at that time."""
    t0, t1 = time_range(start, stop)
    qualified = [rt.mdb.parameter(n).qualified_name for n in names]
    table = rt.archive.export(qualified, t0, t1, raw=raw)
    cols = [format_column(v, p) for v, p in zip(table.values, table.present, strict=True)]
    if format == "json":
        return JSONResponse(
            {"columns": table.names, "rows": [list(r) for r in zip(*cols, strict=True)]}
        )
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table.names)
    w.writerows(zip(*cols, strict=True))
    return PlainTextResponse(buf.getvalue(), media_type="text/csv")


class FileOut(BaseModel):
    """A received file's metadata (``GET /archive/files``)."""

    id: int
    time: str | None
    name: str
    source: str
    size: int
    checksum: str
    sha256: str
    complete: bool
    missing: list[tuple[int, int]]
    attrs: dict[str, object]


def file_out(f: StoredFile) -> FileOut:
    """A stored file's metadata as the API shows it."""
    return FileOut(
        id=f.id,
        time=iso(f.time_ns),
        name=f.name,
        source=f.source,
        size=f.size,
        checksum=f.checksum,
        sha256=f.sha256,
        complete=f.complete,
        missing=list(f.missing),
        attrs=f.attrs,
    )


@router.get("/files")
def list_files(
    rt: SpacecraftDep, user: CurrentUser, start: Start = None, stop: Stop = None
) -> list[FileOut]:
    """Files received from the spacecraft in ``[start, stop)`` (time of their last part), with
    source, size, the transfer's checksum, the archive's SHA-256, and for an incomplete file
    the missing byte ranges."""
    t0, t1 = time_range(start, stop)
    return [file_out(f) for f in rt.archive.list_files(t0, t1)]


@router.get(
    "/files/{file_id}",
    responses={200: {"content": {"application/octet-stream": {}}}},
    response_class=Response,
)
def download_file(
    rt: SpacecraftDep,
    user: CurrentUser,
    file_id: Annotated[int, PathParam(ge=1, le=2**63 - 1, description="A file's id")],
) -> Response:
    """A received file's bytes (``Content-Disposition`` gives its name; ``X-Falak-Complete``
    and ``X-Falak-Sha256`` its state and digest)."""
    meta, data = rt.archive.read_file(file_id)
    base = meta.name.rsplit("/", 1)[-1] or f"file-{meta.id}"
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in base)
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{safe}"',
            "X-Falak-Complete": "true" if meta.complete else "false",
            "X-Falak-Sha256": meta.sha256,
        },
    )


class TransferOut(BaseModel):
    """A CFDP transaction of the spacecraft's file delivery (``GET /archive/transfers``)."""

    source_id: int
    seq: int
    role: str
    peer_id: int
    cls: int
    name: str
    size: int | None
    progress: int
    state: str
    condition: str
    missing: list[tuple[int, int]]


def _files_of(rt: SpacecraftDep) -> FileService:
    if rt.files is None:
        raise InputError(
            f"no file delivery with {rt.name}: give it a 'cfdp:' block in the server config"
        )
    return rt.files


@router.get("/transfers")
def list_transfers(rt: SpacecraftDep, user: CurrentUser) -> list[TransferOut]:
    """The CFDP transactions with the spacecraft, oldest first: files coming down (role
    ``receive``) and going up (``send``), their progress in octets, state (``active``,
    ``suspended`` between contacts, ``finished``, ``cancelled``) and missing ranges."""
    files = _files_of(rt)
    return [
        TransferOut(
            source_id=t.id.source_id,
            seq=t.id.seq,
            role=t.role,
            peer_id=t.peer_id,
            cls=t.cls,
            name=t.name,
            size=t.size,
            progress=t.progress,
            state=t.state,
            condition=t.condition,
            missing=list(t.missing),
        )
        for t in files.transactions()
    ]


@router.post(
    "/files",
    status_code=202,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "required": True,
        }
    },
)
async def upload_file(
    request: Request,
    rt: SpacecraftDep,
    user: Operator,
    name: Annotated[str, Query(min_length=1, max_length=255, description="Name on board")],
    cls: Annotated[int, Query(ge=1, le=2, description="CFDP class: 1 or 2 (acknowledged)")] = 2,
) -> dict[str, object]:
    """Send a file to the spacecraft by CFDP (a camera table, a command stack): the request
    body is the file's bytes. Audited; the transfer shows in ``GET /archive/transfers``."""
    files = _files_of(rt)
    data = await request.body()
    tid = files.put(data, name, cls=cls, user=user.name)
    return {"source_id": tid.source_id, "seq": tid.seq, "name": name, "size": len(data)}
