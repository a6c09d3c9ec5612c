"""``falak stack``: load, start, pause, resume, abort and show command stacks on a running server.

The server is reached at ``--url`` (or ``FALAK_URL``) as ``--user`` (or ``FALAK_USER``) with
the password in ``FALAK_PASSWORD`` (asked for when not set), through :class:`falak.client.Client`;
``--spacecraft`` (or ``FALAK_SPACECRAFT``) picks the spacecraft of a server hosting several.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

stack_app = typer.Typer(
    help="Command stacks on a running server: load a YAML stack, start, pause, resume, abort, "
    "show.",
    no_args_is_help=True,
)

Url = Annotated[
    str, typer.Option("--url", envvar="FALAK_URL", help="The falak server (env FALAK_URL).")
]
UserName = Annotated[
    str, typer.Option("--user", envvar="FALAK_USER", help="Who logs in (env FALAK_USER).")
]
Password = Annotated[
    str,
    typer.Option(
        "--password",
        envvar="FALAK_PASSWORD",
        prompt=True,
        hide_input=True,
        help="Password (env FALAK_PASSWORD; asked for when not given).",
    ),
]
Name = Annotated[str, typer.Argument(help="The stack's name (its 'stack:' key).")]
SpacecraftName = Annotated[
    str | None,
    typer.Option(
        "--spacecraft",
        envvar="FALAK_SPACECRAFT",
        help="The spacecraft on the server (env FALAK_SPACECRAFT; default: the server's first).",
    ),
]
ArmCritical = Annotated[
    bool,
    typer.Option(
        "--arm-critical",
        help="Arm and confirm the stack's critical steps as you (needs an arming role); a "
        "stack with critical steps does not start without it.",
    ),
]
DEFAULT_URL = "http://127.0.0.1:8000"


def write_checked_stack(
    text: str, steps: list[dict[str, Any]], out: Path, mdb: Any, mdb_path: Path
) -> None:
    """Write a planner's stack ``text`` to ``out`` and check it against ``mdb``.

    On a problem, print each as ``STACK.yaml:LINE: message (the step's comment)`` and exit 1;
    ``steps`` are the document's steps, for their comments.
    """
    import re

    from falak.commanding.stack import StackError, parse_stack

    out.write_text(text, encoding="utf-8")
    try:
        parse_stack(text, mdb, file=str(out))
    except StackError as exc:
        typer.echo(f"error: the stack in {out} does not check against {mdb_path}:", err=True)
        comments = [s.get("comment", "") for s in steps]
        for problem in exc.problems:
            m = re.search(r": step (\d+)", problem)
            who = f" ({comments[int(m.group(1)) - 1]})" if m else ""
            typer.echo(f"  {problem}{who}", err=True)
        raise typer.Exit(code=1) from None


def _run(
    url: str,
    user: str,
    password: str,
    call: Any,
    *,
    as_json: bool = False,
    spacecraft: str | None = None,
) -> None:
    from rich.console import Console

    from falak.client import Client
    from falak.errors import FalakError

    try:
        with Client.login(url, user, password, spacecraft=spacecraft) as fc:
            rec = call(fc)
    except FalakError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    except OSError as exc:
        Console(stderr=True).print(f"[red]error:[/red] cannot reach {url}: {exc}", highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(rec, indent=2))
    else:
        _show(rec)


def _show(rec: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False, soft_wrap=True)
    line = f"stack {rec['name']} ({rec['spacecraft']}): {rec['state']}"
    if rec.get("reason"):
        line += f" - {rec['reason']}"
    out.print(line)
    table = Table("step", "command", "time", "state", "command id", "reason")
    for s in rec["steps"]:
        when = s["at"] if s.get("at") else f"+{s['offset_s']:g} s"
        table.add_row(
            str(s["index"]),
            s["command"],
            when,
            s["state"],
            str(s.get("command_id") or ""),
            s.get("reason") or "",
        )
    out.print(table)


def load_stack(
    file: Annotated[Path, typer.Argument(help="The stack, YAML (see docs/commanding.md).")],
    url: Url = DEFAULT_URL,
    user: UserName = "operator",
    password: Password = "",
    spacecraft: SpacecraftName = None,
) -> None:
    """Load a stack: the server checks it against its MDB (errors as FILE:LINE: message)."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    _run(url, user, password, lambda fc: fc.load_stack(text, file=str(file)), spacecraft=spacecraft)


def show_stack(
    name: Name,
    url: Url = DEFAULT_URL,
    user: UserName = "operator",
    password: Password = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
    spacecraft: SpacecraftName = None,
) -> None:
    """Show a stack and the status of each step."""
    _run(url, user, password, lambda fc: fc.stack(name), as_json=as_json, spacecraft=spacecraft)


def _action(action: str, arm: bool = False) -> Any:
    def command(
        name: Name,
        url: Url = DEFAULT_URL,
        user: UserName = "operator",
        password: Password = "",
        spacecraft: SpacecraftName = None,
    ) -> None:
        _run(url, user, password, lambda fc: fc.stack_action(name, action), spacecraft=spacecraft)

    def armed(
        name: Name,
        url: Url = DEFAULT_URL,
        user: UserName = "operator",
        password: Password = "",
        arm_critical: ArmCritical = False,
        spacecraft: SpacecraftName = None,
    ) -> None:
        _run(
            url,
            user,
            password,
            lambda fc: fc.stack_action(name, action, arm_critical=arm_critical),
            spacecraft=spacecraft,
        )

    fn = armed if arm else command
    fn.__doc__ = {
        "start": "Start a loaded stack now; its steps are issued as you.",
        "pause": "Hold the steps not yet released (a step being verified goes on).",
        "resume": "Continue a paused stack; steps whose time passed go at once, in order.",
        "abort": "Cancel the steps not yet released.",
    }[action]
    return fn


def register(app: typer.Typer) -> None:
    """Add the ``stack`` group to the ``falak`` command."""
    stack_app.command("load")(load_stack)
    stack_app.command("show")(show_stack)
    stack_app.command("start")(_action("start", arm=True))
    stack_app.command("pause")(_action("pause"))
    stack_app.command("resume")(_action("resume", arm=True))
    stack_app.command("abort")(_action("abort"))
    app.add_typer(stack_app, name="stack")
