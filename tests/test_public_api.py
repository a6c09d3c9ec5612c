"""The curated public API is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import subprocess
import sys

import falak


def test_all_is_pinned() -> None:
    assert sorted(falak.__all__) == [
        "Bus",
        "CommandRejected",
        "ContainerEncoder",
        "DecodeError",
        "Decoder",
        "FalakError",
        "InputError",
        "MdbError",
        "MissionDatabase",
        "MoonSite",
        "PlanInfeasible",
        "Processor",
        "__version__",
        "decode_stream",
        "encode_packet",
        "find_passes",
        "load",
        "load_stations",
        "open_archive",
        "propagate",
        "read_tle_file",
        "sky",
        "split_packets",
    ]


def test_every_public_name_resolves() -> None:
    for name in falak.__all__:
        assert getattr(falak, name) is not None, name


def test_import_is_light() -> None:
    """``import falak`` must not pull in numba or skyfield (the CLI's start-up time)."""
    code = "import sys, falak; print('numba' in sys.modules, 'skyfield' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
