"""Shared fixtures: where the third-party test data lives.

The redistributable files (space_packet_parser and ccsdspy, BSD-3; the BogusSAT databases,
Apache-2.0) ship in ``tests/data`` (see its README), so a fresh clone runs their truth tests.
The eight Yamcs XTCE files under AGPL-3.0 stay outside the repository, in
``../shared/testdata/yamcs-xtce`` (or ``$FALAK_TESTDATA/yamcs-xtce``); the tests that read them
take the ``yamcs_xtce`` fixture, which skips with a message when that folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Timing is not a test assertion (CONVENTIONS.md): no per-example deadlines, which turn a
# numba compile or a busy CI machine into a flaky failure.
settings.register_profile("falak", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("falak")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
"""The third-party test data that ships with the repository."""
SHARED_TESTDATA = Path(os.environ.get("FALAK_TESTDATA", REPO.parent / "shared" / "testdata"))
"""The shared folder that also holds the AGPL Yamcs files (optional)."""


@pytest.fixture(scope="session")
def testdata() -> Path:
    """Return the folder of the redistributable third-party test data (``tests/data``)."""
    return DATA


@pytest.fixture(scope="session")
def yamcs_xtce() -> Path:
    """Return the folder of the AGPL-3.0 Yamcs XTCE files; skip when it is absent."""
    folder = SHARED_TESTDATA / "yamcs-xtce"
    if not (folder / "ccsds-green-book.xml").is_file():
        pytest.skip(
            f"the AGPL Yamcs XTCE files are not at {folder} (they are not redistributed with "
            "falak); set FALAK_TESTDATA to the shared test-data folder to run this test"
        )
    return folder


def data_file(rel: str) -> Path:
    """Return third-party test file ``rel`` (``tests/data`` first, then the shared folder).

    Skips the calling test, saying why, when the file is only in the absent shared folder
    (the AGPL Yamcs files).
    """
    for root in (DATA, SHARED_TESTDATA):
        if (root / rel).is_file():
            return root / rel
    pytest.skip(
        f"{rel} is not in tests/data (not redistributable) nor at {SHARED_TESTDATA}; set "
        "FALAK_TESTDATA to the shared test-data folder to run this test"
    )
