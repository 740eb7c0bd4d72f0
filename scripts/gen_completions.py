"""Write the shell completion scripts into completions/ (run by `make completions`)."""

from __future__ import annotations

from pathlib import Path

from tokenhub.cli.completions import all_scripts
from tokenhub.cli.root import app

OUT = Path(__file__).resolve().parents[1] / "completions"


def main() -> None:
    """Regenerate every completion script."""
    OUT.mkdir(exist_ok=True)
    for name, text in all_scripts(app).items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote completions/{name}")


if __name__ == "__main__":
    main()
