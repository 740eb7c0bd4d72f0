"""Docs are tested: generated references are current, and nothing served is undocumented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from cogapp import Cog
from prometheus_client.parser import text_string_to_metric_families

from tokenhub.config import load_settings
from tokenhub.server.app import create_app

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_cli_reference_is_current():
    """docs/CLI.md equals what cog generates from the CLI (run `make docs`)."""
    status = Cog().main(["cog", "--check", str(DOCS / "CLI.md")])
    assert status == 0, "docs/CLI.md is stale: run `make docs`"


def test_api_field_tables_are_current():
    """docs/API.md's cross-format field tables equal what cog generates (run `make docs`)."""
    status = Cog().main(["cog", "--check", str(DOCS / "API.md")])
    assert status == 0, "docs/API.md is stale: run `make docs`"


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


def metric_names(exposition: str) -> set[str]:
    """Metric family names in an exposition (counters with their _total suffix)."""
    return {
        family.name + ("_total" if family.type == "counter" else "")
        for family in text_string_to_metric_families(exposition)
    }


async def test_metrics_doc_matches_registry(tokenhub_home):
    """docs/METRICS.md lists exactly the metrics a running daemon exports at /metrics."""
    text = (DOCS / "METRICS.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(tokenhub_[a-z0-9_]+)`", text, re.MULTILINE))
    async with TestClient(TestServer(create_app(load_settings()))) as client:
        exported = metric_names(await (await client.get("/metrics")).text())
    assert documented == exported


def test_screenshot_script_renders_the_readme_commands(tmp_path):
    """`make screenshots` drives a demo daemon and renders real CLI output to SVG."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_screenshots.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    route = (tmp_path / "route-test.svg").read_text(encoding="utf-8")
    health = (tmp_path / "health.svg").read_text(encoding="utf-8")
    assert route.startswith("<svg")
    assert "choice" in route
    assert "(*)" in route
    assert "sim-" in route
    assert "sim-openai" in health
    assert "healthy" in health
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/img/route-test.svg" in readme
    assert "docs/img/health.svg" in readme
