"""Docs are tested: generated references are current, and nothing served is undocumented."""

from __future__ import annotations

import re
from pathlib import Path

from cogapp import Cog
from prometheus_client.parser import text_string_to_metric_families

from tokenhub.config import load_settings
from tokenhub.observability.metrics import Metrics
from tokenhub.server.app import create_app

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_cli_reference_is_current():
    """docs/CLI.md equals what cog generates from the CLI (run `make docs`)."""
    status = Cog().main(["cog", "--check", str(DOCS / "CLI.md")])
    assert status == 0, "docs/CLI.md is stale: run `make docs`"


def test_every_route_is_in_api_doc(tokenhub_home):
    """Each method and path the app routes appears in docs/API.md as `METHOD /path`."""
    text = (DOCS / "API.md").read_text(encoding="utf-8")
    app = create_app(load_settings())
    missing = [
        f"{route.method} {route.resource.canonical}"
        for route in app.router.routes()
        if route.method != "HEAD"
        and route.resource is not None
        and f"`{route.method} {route.resource.canonical}`" not in text
    ]
    assert missing == []


def exported_metric_names() -> set[str]:
    """Metric family names the registry exports (counters without the _total suffix)."""
    families = text_string_to_metric_families(Metrics().render().decode())
    names = set()
    for family in families:
        names.add(family.name + ("_total" if family.type == "counter" else ""))
    return names


def test_metrics_doc_matches_registry():
    """docs/METRICS.md lists exactly the metrics the registry exports."""
    text = (DOCS / "METRICS.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(tokenhub_[a-z0-9_]+)`", text, re.MULTILINE))
    assert documented == exported_metric_names()
