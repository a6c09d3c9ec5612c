"""The archive's modules import each other in one direction only (issue 12, "Architecture")."""

from __future__ import annotations

import grimp


def test_export_does_not_import_base() -> None:
    """``archive.base`` imports ``archive.export`` (for ``Archive.export``); not the reverse.

    grimp counts imports under ``TYPE_CHECKING`` too: those made the cycle.
    """
    graph = grimp.build_graph("falak")
    assert (
        graph.find_shortest_chain(importer="falak.archive.export", imported="falak.archive.base")
        is None
    )
    assert graph.direct_import_exists(
        importer="falak.archive.base", imported="falak.archive.export"
    )
