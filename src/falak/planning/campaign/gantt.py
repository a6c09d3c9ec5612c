"""Gantt charts of campaign plans: crew and rack rows, eclipses and contact windows as bands.

Input is the plan JSON written by ``falak campaign plan`` (it carries the campaign start, the
crew and rack names and the environment windows). Output is a self-contained HTML page (inline
SVG, no script, no CDN) or a PNG drawn with matplotlib.
"""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from falak.errors import InputError
from falak.utctime import parse_utc

__all__ = ["gantt_rows", "write_gantt"]

_COLOURS = {
    "prep": "#6baed6",
    "run": "#2171b5",
    "unattended": "#9ecae1",
    "stow": "#6baed6",
    "sample-transfer": "#e6550d",
    "downlink": "#31a354",
}

Bar = tuple[float, float, str, str]  # start_h, end_h, kind, label


def gantt_rows(plan: Mapping[str, Any]) -> tuple[list[str], dict[str, list[Bar]], float]:
    """Return row names, the bars of each row (hours since the start) and the span in hours."""
    acts = plan.get("activities")
    if not isinstance(acts, list):
        raise InputError("a plan JSON needs an 'activities' list (from falak campaign plan)")
    times = [parse_utc(str(a["start"])) for a in acts] + [parse_utc(str(a["end"])) for a in acts]
    start = (
        parse_utc(str(plan["start"]))
        if plan.get("start")
        else min(times, default=_dt.datetime(2000, 1, 1, tzinfo=_dt.UTC))
    )
    crew = list(plan.get("crew_names") or sorted({c for a in acts for c in a.get("crew") or []}))
    racks = list(plan.get("rack_names") or sorted({a["rack"] for a in acts if a.get("rack")}))
    rows = [*crew, *racks, "downlink"]
    bars: dict[str, list[Bar]] = {r: [] for r in rows}

    def hours(t: str) -> float:
        return (parse_utc(t) - start).total_seconds() / 3600.0

    for a in acts:
        a0, a1 = hours(str(a["start"])), hours(str(a["end"]))
        label = f"{a['experiment']}/{a['session']} {a['kind']}"
        for who in a.get("crew") or []:
            bars.setdefault(who, []).append((a0, a1, str(a["kind"]), label))
        if a.get("rack"):
            bars.setdefault(str(a["rack"]), []).append((a0, a1, str(a["kind"]), label))
        if a["kind"] == "downlink":
            bars["downlink"].append((a0, a1, "downlink", label))
    span = max((b[1] for bs in bars.values() for b in bs), default=24.0)
    env = plan.get("environment") or {}
    for key in ("eclipses_min", "contacts_min"):
        for w in env.get(key, []):
            span = max(span, float(w[1]) / 60.0)
    return rows, bars, span


def _bands(plan: Mapping[str, Any], key: str) -> list[tuple[float, float]]:
    env = plan.get("environment") or {}
    return [(float(a) / 60.0, float(b) / 60.0) for a, b in env.get(key, [])]


def _svg(plan: Mapping[str, Any]) -> str:
    rows, bars, span = gantt_rows(plan)
    left, top, row_h, width = 160, 40, 22, 1400
    px = (width - left - 10) / max(span, 1e-9)
    height = top + row_h * len(rows) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">'
    ]
    for a, b in _bands(plan, "eclipses_min"):
        out.append(
            f'<rect x="{left + a * px:.1f}" y="{top}" width="{max(0.5, (b - a) * px):.1f}" '
            f'height="{row_h * len(rows)}" fill="#bbbbbb" opacity="0.35"><title>eclipse'
            "</title></rect>"
        )
    for a, b in _bands(plan, "contacts_min"):
        out.append(
            f'<rect x="{left + a * px:.1f}" y="{top - 12}" width="{max(0.5, (b - a) * px):.1f}" '
            'height="8" fill="#31a354"><title>contact window</title></rect>'
        )
    out.append(f'<text x="4" y="{top - 4}">contacts</text>')
    for i, r in enumerate(rows):
        y = top + i * row_h
        out.append(f'<text x="4" y="{y + 15}">{html.escape(r)}</text>')
        out.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y + row_h}" y2="{y + row_h}" '
            'stroke="#dddddd"/>'
        )
        for a0, a1, kind, label in bars.get(r, []):
            out.append(
                f'<rect x="{left + a0 * px:.1f}" y="{y + 3}" width="{max(1.0, (a1 - a0) * px):.1f}"'
                f' height="{row_h - 6}" fill="{_COLOURS.get(kind, "#888888")}">'
                f"<title>{html.escape(label)}</title></rect>"
            )
    for d in range(int(span // 24) + 1):
        x = left + d * 24 * px
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{height - 25}" stroke="#999"/>')
        out.append(f'<text x="{x + 2:.1f}" y="{height - 10}">day {d + 1}</text>')
    out.append("</svg>")
    return "\n".join(out)


def write_gantt(plan: Mapping[str, Any], out: str | Path) -> Path:
    """Write a Gantt chart of ``plan`` to ``out``: ``.html`` (inline SVG) or ``.png``."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        title = html.escape(str(plan.get("campaign", "campaign plan")))
        status = html.escape(
            f"{plan.get('status')} objective {plan.get('objective')} bound {plan.get('bound')}"
        )
        legend = " ".join(
            f'<span style="background:{c};padding:0 6px;color:#fff">{k}</span>'
            for k, c in _COLOURS.items()
        )
        page = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title></head><body>\n<h1>{title}</h1>\n<p>{status}</p>\n"
            f"<p>{legend} <span style='background:#bbbbbb;padding:0 6px'>eclipse</span></p>\n"
            f"{_svg(plan)}\n</body></html>\n"
        )
        path.write_text(page, encoding="utf-8")
        return path
    if suffix != ".png":
        raise InputError(f"Gantt output must end in .html or .png, got {path.name!r}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, bars, span = gantt_rows(plan)
    fig, ax = plt.subplots(figsize=(min(40.0, 6 + span / 6), 1 + 0.3 * len(rows)))
    try:
        for a, b in _bands(plan, "eclipses_min"):
            ax.axvspan(a, b, color="#bbbbbb", alpha=0.35, lw=0)
        for a, b in _bands(plan, "contacts_min"):
            ax.axvspan(a, b, ymin=0.97, ymax=1.0, color="#31a354", lw=0)
        for i, r in enumerate(rows):
            for a0, a1, kind, _ in bars.get(r, []):
                ax.barh(i, a1 - a0, left=a0, color=_COLOURS.get(kind, "#888888"), height=0.7)
        ax.set_yticks(range(len(rows)), rows)
        ax.invert_yaxis()
        ax.set_xlim(0, span)
        ax.set_xlabel("hours since campaign start (UTC)")
        ax.set_title(str(plan.get("campaign", "campaign plan")))
        fig.tight_layout()
        fig.savefig(path, dpi=80)
    finally:
        plt.close(fig)
    return path
