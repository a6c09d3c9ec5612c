"""``falak serve``: run the processor, the command manager and the API server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def serve_command(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Server configuration (YAML: archive, users, clock and a list of spacecraft, "
            "each with its mdb, links and uplink; see docs/server.md). Without it, a ready "
            "example starts: the TESTSAT MDB, a UDP telemetry link, an archive in a "
            "temporary directory and one user per role with a random password (printed).",
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free).")
    ] = 8000,
    tm_port: Annotated[
        int,
        typer.Option(
            "--tm-port",
            min=0,
            max=65535,
            help="Example only: UDP port of the telemetry link on 127.0.0.1 (0: any free).",
        ),
    ] = 10015,
    uplink_port: Annotated[
        int,
        typer.Option(
            "--uplink-port",
            min=1,
            max=65535,
            help="Example only: UDP port on 127.0.0.1 that telecommands are sent to.",
        ),
    ] = 10025,
    ws_deflate: Annotated[
        bool,
        typer.Option(
            "--ws-deflate/--no-ws-deflate",
            help="Compress WebSocket frames (permessage-deflate) for clients that ask. Off by "
            "default: at telemetry rates compressing every frame for every subscriber costs "
            "more CPU than it saves on a LAN; turn it on for consoles behind a slow link.",
        ),
    ] = False,
) -> None:
    """Serve the REST API (/api/v1, OpenAPI at /openapi.json) and WebSocket streams.

    Stops cleanly on Ctrl-C or SIGTERM: the server stops, the links stop, what was received
    is archived, and the archive is closed.
    """
    import socket
    import tempfile

    from falak.cli import freeze_loaded_objects
    from falak.errors import FalakError

    _QuietServer = _quiet_server_class()
    from falak.server import Runtime, create_app, example_config, load_config, uvicorn_config

    tmp = None
    try:
        if config is None:
            tmp = tempfile.TemporaryDirectory(prefix="falak-serve-")
            cfg = example_config(
                Path(tmp.name) / "archive", tm_port=tm_port, uplink_port=uplink_port
            )
        else:
            cfg = load_config(config)
        runtime = Runtime.from_config(cfg)
        freeze_loaded_objects()
    except (FalakError, OSError) as exc:
        if tmp is not None:
            tmp.cleanup()
        typer.echo("error: " + " ".join(str(exc).split()), err=True)
        raise typer.Exit(1) from None
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        runtime.stop()
        if tmp is not None:
            tmp.cleanup()
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    bound = sock.getsockname()[1]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{bound}"
    typer.echo(f"falak server on {url}  (API {url}/api/v1, OpenAPI {url}/openapi.json)")
    for sc in runtime.spacecraft.values():
        default = " (default: also under /api/v1)" if sc is runtime.default else ""
        typer.echo(f"spacecraft {sc.name}{default}: /api/v1/spacecraft/{sc.name}")
        for link in sc.processor.links.values():
            typer.echo(f"  telemetry link {link.name}: {link.url}")
        if sc.uplink is not None:
            typer.echo(f"  uplink: {sc.uplink.url}")
    typer.echo(f"archive: {cfg.archive}")
    if config is None:
        typer.echo("example users (name / password / role):")
        for u in cfg.users:
            typer.echo(f"  {u.name} / {u.password} / {u.roles[0]}")
    runtime.start()
    try:
        server = _QuietServer(
            uvicorn_config(
                create_app(runtime, science_products_dir=cfg.science_products_dir),
                ws_deflate=ws_deflate,
            )
        )
        server.run(sockets=[sock])
    finally:
        runtime.stop()
        sock.close()
        if tmp is not None:
            tmp.cleanup()
    typer.echo("stopped")


def _quiet_server_class() -> type:
    import contextlib
    import signal
    from collections.abc import Generator

    import uvicorn

    class QuietServer(uvicorn.Server):
        """uvicorn re-raises a caught SIGINT/SIGTERM after its graceful shutdown (exit 130);
        falak stops its runtime after the server and exits 0, as ``falak run`` does."""

        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            sigs = (signal.SIGINT, signal.SIGTERM)
            old = {s: signal.signal(s, self.handle_exit) for s in sigs}
            try:
                yield
            finally:
                for s, h in old.items():
                    signal.signal(s, h)

    return QuietServer


def register(app: typer.Typer) -> None:
    """Add the top-level ``serve`` command to ``falak``."""
    app.command(name="serve")(serve_command)
