"""Shared fixtures: where the third-party test data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTDATA = Path(os.environ.get("FALAK_TESTDATA", REPO.parent / "shared" / "testdata"))


@pytest.fixture(scope="session")
def testdata() -> Path:
    """Path of ``../shared/testdata``; skips with a clear message only if it is truly absent."""
    if not TESTDATA.is_dir():
        pytest.skip(
            f"shared test data not found at {TESTDATA}; set FALAK_TESTDATA to its folder"
        )
    return TESTDATA
