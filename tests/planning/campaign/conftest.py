"""Small hand-built campaigns for the planning tests."""

from __future__ import annotations

from typing import Any

import pytest


def base_campaign(**over: Any) -> dict[str, Any]:
    """Return a one-day, one-crew, one-rack campaign with no orbit (always in contact)."""
    data: dict[str, Any] = {
        "campaign": "hand-built",
        "start": "2024-01-01T00:00:00Z",
        "days": 1,
        "crew": [{"name": "Ayesha", "qualifications": ["payload-specialist"]}],
        "racks": [{"name": "R1", "module": "Wentian"}],
        "experiments": [],
    }
    data.update(over)
    return data


def session(name: str, run_min: int, **kw: Any) -> dict[str, Any]:
    """Return a session on rack R1."""
    return {"name": name, "racks": ["R1"], "run_min": run_min, **kw}


def experiment(name: str, priority: int, *sessions: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """Return an experiment in materials science."""
    return {
        "name": name,
        "discipline": "materials science",
        "priority": priority,
        "sessions": list(sessions),
        **kw,
    }


@pytest.fixture
def small() -> dict[str, Any]:
    """A campaign whose optimum is known (see test_solver.py)."""
    return base_campaign(
        experiments=[
            experiment("A", 5, session("s", 240)),
            experiment("B", 4, session("s", 150)),
            experiment("C", 3, session("s", 150)),
        ]
    )
