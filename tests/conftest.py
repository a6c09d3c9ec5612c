"""Shared fixtures: where the third-party test data lives."""

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
TESTDATA = Path(os.environ.get("FALAK_TESTDATA", REPO.parent / "shared" / "testdata"))


@pytest.fixture(scope="session")
def testdata() -> Path:
    """Path of ``../shared/testdata``; skips with a clear message only if it is truly absent."""
    if not TESTDATA.is_dir():
        pytest.skip(f"shared test data not found at {TESTDATA}; set FALAK_TESTDATA to its folder")
    return TESTDATA
