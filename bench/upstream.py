"""The benchmark's upstream: ``tokenhub sim`` on uvloop, keeping no request record.

    python bench/upstream.py --scenario bench/scenarios/zero.yaml --port 8901

Same simulator and scenario format as ``tokenhub sim`` (docs/PROVIDERS.md), started through
its programmatic API for two reasons: uvloop makes the upstream cheaper, so it is less
likely to be the bottleneck on a 2-core machine; and ``max_received=0`` keeps no request
record, so a 10-minute soak does not grow the upstream's memory. It prints the same
``tokenhub sim listening on URL (...)`` line as the CLI.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvloop

from tokenhub.sim import Simulator, load_scenario, serve_until_signalled


def _announce(sim: Simulator) -> None:
    urls = ", ".join(f"{p.name}={sim.base_url(p.name)}" for p in sim.scenario.providers)
    print(f"tokenhub sim listening on {sim.url} ({urls})", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="benchmark upstream (provider simulator)")
    parser.add_argument("--scenario", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    scenario = load_scenario(args.scenario)
    uvloop.run(serve_until_signalled(scenario, args.host, args.port, _announce, max_received=0))


if __name__ == "__main__":
    main()
