"""The ``tokenhub`` command line: parses arguments and calls the core or the daemon."""

from __future__ import annotations

import sys


def main() -> None:
    """Entry point of the console script.

    ``tokenhub serve`` takes a short path that loads only the serve command, so the
    long-lived daemon does not carry the rest of the CLI (Rich, every sub-command) in its
    memory.
    """
    if sys.argv[1:2] == ["serve"]:
        from tokenhub.cli.serve import serve_main

        serve_main(sys.argv[2:])
        return
    from tokenhub.cli.root import main as root_main

    root_main()


__all__ = ["main"]
