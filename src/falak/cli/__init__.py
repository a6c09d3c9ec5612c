"""The ``falak`` command line: one module per command group, registered in :mod:`.app`."""
