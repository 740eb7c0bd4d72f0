"""``tokenhub config``: inspect the effective settings without a daemon."""

from __future__ import annotations

import typer

from tokenhub.cli.common import Col, ConfigOpt, JsonOpt, handle_errors, print_json, print_table
from tokenhub.config import effective_view, load_settings

app = typer.Typer(name="config", help="Inspect configuration.", no_args_is_help=True)


@app.command("show")
@handle_errors
def show(config: ConfigOpt = None, json: JsonOpt = False) -> None:
    """Print every effective setting and where it came from; secrets are masked."""
    loaded = load_settings(config_file=config)
    rows = effective_view(loaded)
    if json:
        print_json(
            {
                "config_file": str(loaded.config_file) if loaded.config_file else None,
                "settings": {key: {"value": value, "source": src} for key, value, src in rows},
            }
        )
        return
    title = f"config file: {loaded.config_file or 'none'}"
    print_table(
        title,
        [Col("setting", key=True), Col("value"), Col("source")],
        [[k, _show(v), s] for k, v, s in rows],
    )


def _show(value: object) -> str:
    if isinstance(value, list):
        return f"{len(value)} item(s)" if value and isinstance(value[0], dict) else str(value)
    return str(value)
