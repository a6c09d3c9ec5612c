"""falak's server: a FastAPI REST API and WebSocket streams over live processors.

:func:`~falak.server.app.create_app` builds the app around a
:class:`~falak.server.runtime.Runtime`: one or more spacecraft
(:class:`~falak.server.runtime.SpacecraftRuntime`: mission database, archive, processor,
command manager) and the users; ``falak serve`` runs it with uvicorn. Everything is
versioned under ``/api/v1``, each spacecraft's routes also under
``/api/v1/spacecraft/{sc}``; every route but ``/health`` needs a bearer token from ``POST
/api/v1/auth/token``. See ``docs/server.md``.
"""

from __future__ import annotations

from falak.server.app import create_app, uvicorn_config
from falak.server.auth import ROLES, TokenStore, User, UserStore, hash_password
from falak.server.config import (
    Limits,
    ServerConfig,
    SpacecraftConfig,
    UserConfig,
    example_config,
    load_config,
)
from falak.server.runtime import Runtime, SpacecraftRuntime

__all__ = [
    "ROLES",
    "Limits",
    "Runtime",
    "ServerConfig",
    "SpacecraftConfig",
    "SpacecraftRuntime",
    "TokenStore",
    "User",
    "UserConfig",
    "UserStore",
    "create_app",
    "example_config",
    "hash_password",
    "load_config",
    "uvicorn_config",
]
