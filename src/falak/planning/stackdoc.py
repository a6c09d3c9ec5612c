"""Command-stack documents as the planners write them: the YAML of :mod:`falak.commanding.stack`.

The campaign planner (:mod:`falak.planning.campaign.commands`) and the traverse planner
(:mod:`falak.planning.traverse.commands`) both turn a plan into a stack document, a dict with
``stack``, ``spacecraft``, ``description``, ``on_failure`` and ``steps``. This module holds
what they share. A planner does not import :mod:`falak.commanding`: the caller checks the text
against the mission database with ``falak.commanding.stack.parse_stack``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

__all__ = ["POLICIES", "stack_yaml"]

#: Stack failure policies (``on_failure`` of :mod:`falak.commanding.stack`).
POLICIES: tuple[str, ...] = ("stop", "continue")


def stack_yaml(doc: Mapping[str, Any], *, header: str | None = None) -> str:
    """Return the stack document as YAML text (one step per block, arguments on one line)."""
    text = yaml.safe_dump(
        dict(doc), sort_keys=False, allow_unicode=True, width=100, default_flow_style=None
    )
    if header:
        text = "".join(f"# {line}\n" for line in header.splitlines()) + text
    return text
