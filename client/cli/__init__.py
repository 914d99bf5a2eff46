"""The ``closedset`` command line: thin adapters from arguments to ``client`` and ``keys``."""
