"""``falak moon``: the sky of a lunar surface site (Sun and Earth azimuth/elevation, light time)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``moon`` command group to ``app``."""
    moon = typer.Typer(
        help="Moon geometry: Sun and Earth as seen from a lunar surface site (MOON_ME frame).",
        no_args_is_help=True,
    )
    app.add_typer(moon, name="moon")
