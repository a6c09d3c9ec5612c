"""``/archive/export``: parameters aligned by time as CSV or JSON."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from falak.server.routes.deps import CurrentUser, SpacecraftDep
from falak.server.routes.telemetry import Start, Stop, time_range
from falak.tm.tabular import format_column

router = APIRouter(prefix="/archive", tags=["archive"])


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
