"""Run the CLI with ``python -m tokenhub``."""

from tokenhub.cli import main

if __name__ == "__main__":
    main()
