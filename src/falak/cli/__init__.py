"""The ``falak`` command line: one module per command group, registered in :mod:`.app`."""


def freeze_loaded_objects() -> None:
    """Move everything alive now out of the cyclic garbage collector's reach (``gc.freeze``).

    Called by long decoding commands once the mission database is loaded: its hundreds of
    thousands of objects live until the process ends, and without this every full collection
    (which batch decoding's allocations trigger) walks them all again. On the perftest2 MDB
    (200 packet types x 369 parameters) this halves the CPU time of decoding a 1,000-packet
    batch (median 226-267 ms -> 112-135 ms) and removes the slow outliers (200 packets: up to
    0.7-1.0 s -> at most 115 ms); ``benchmarks/gc_freeze.py``, benchmarks/RESULTS_ingest.md.
    Objects frozen here are still freed by reference counting, but a cycle among them is never
    collected, so this is a decision for the process (the CLI), not something the library
    does on its own.
    """
    import gc

    gc.collect()
    gc.freeze()
