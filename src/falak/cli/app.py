"""The ``falak`` command: a Typer app that gathers one module per command group.

Each group module exposes ``register(app)``; heavy imports (numba, skyfield) happen inside the
commands so that ``falak --help`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="falak",
    help=(
        "falak: ground system for space science. Mission database, CCSDS telemetry, "
        "flight dynamics and planning for station payloads, a lunar rover and a lunar orbiter."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Command-group modules, in the order ``falak --help`` lists them.
GROUP_MODULES: tuple[str, ...] = (
    "falak.cli.mdb",
    "falak.cli.tm",
    "falak.cli.passes",
    "falak.cli.moon",
    "falak.cli.orbiter",
    "falak.cli.run",
    "falak.cli.archive",
    "falak.cli.terrain",
    "falak.cli.traverse",
    "falak.cli.rover",
    "falak.cli.science",
    "falak.cli.campaign",
    "falak.cli.command",
    "falak.cli.stack",
    "falak.cli.serve",
    "falak.cli.sim",
    "falak.cli.demo",
)


@app.callback()
def _before_every_command() -> None:
    # a file name that is not UTF-8 must print (as \xNN), not end the command
    from falak.cli import safe_output_streams

    safe_output_streams()


for _name in GROUP_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """Run the ``falak`` command line."""
    app()
