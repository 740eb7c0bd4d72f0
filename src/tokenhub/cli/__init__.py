"""The ``tokenhub`` command line: parses arguments and calls the core or the daemon."""

from tokenhub.cli.root import main

__all__ = ["main"]
