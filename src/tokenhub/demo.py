"""Demo mode: the daemon plus an in-process provider simulator and a throwaway store.

``tokenhub serve --demo`` (and ``make run`` with nothing configured) starts this, so a
newcomer's first request is answered without any provider key. Everything simulated is
labelled so: provider and model ids start with ``sim-``, ``tokenhub status`` says
"demo (simulated providers)", and the daemon logs it at start.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tokenhub.config import LoadedSettings
from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.sim import (
    MatchSpec,
    ModelSpec,
    ProviderSpec,
    ResponseSpec,
    Scenario,
    Simulator,
    start_simulator,
)

log = logging.getLogger("tokenhub.demo")
GREETING = (
    "Hello from the tokenhub demo! This answer comes from a simulated model, "
    "routed by tokenhub. Configure real providers to talk to real models."
)


def demo_scenario() -> Scenario:
    """Three simulated providers with a little latency, so streaming is visible."""
    pace = {"ttft_ms": 80, "tokens_per_second": 400, "output_tokens": 60}
    greet = (ResponseSpec(match=MatchSpec(prompt=r"(?i)\b(hello|hi|hey)\b"), reply=GREETING),)
    return Scenario(
        seed=1,
        providers=(
            ProviderSpec(
                name="openai",
                type="openai",
                models=(
                    ModelSpec(id="gpt-4o-mini", context_window=128_000, **pace),
                    ModelSpec(id="gpt-4o", context_window=128_000, **pace),
                ),
                responses=greet,
            ),
            ProviderSpec(
                name="anthropic",
                type="anthropic",
                models=(
                    ModelSpec(id="claude-haiku-4-5", context_window=200_000, **pace),
                    ModelSpec(id="claude-sonnet-4-5", context_window=200_000, **pace),
                ),
                responses=greet,
            ),
            ProviderSpec(
                name="vllm",
                type="vllm",
                models=(ModelSpec(id="llama-3.1-8b", context_window=8_192, **pace),),
                responses=greet,
            ),
        ),
    )


def demo_registry(sim: Simulator) -> tuple[list[ProviderConfig], list[ModelConfig]]:
    """Providers and models pointing at the running simulator."""
    providers = [
        ProviderConfig(id="sim-openai", type="openai", base_url=sim.base_url("openai")),
        ProviderConfig(id="sim-anthropic", type="anthropic", base_url=sim.base_url("anthropic")),
        ProviderConfig(id="sim-vllm", type="vllm", base_url=sim.base_url("vllm")),
    ]
    caps: list[str] = ["tools", "json"]
    models = [
        _model("sim-gpt-4o-mini", "sim-openai", "gpt-4o-mini", 4, 128_000, 0.15, 0.6, 600, caps),
        _model("sim-gpt-4o", "sim-openai", "gpt-4o", 7, 128_000, 2.5, 10.0, 1200, caps),
        _model(
            "sim-claude-haiku", "sim-anthropic", "claude-haiku-4-5", 5, 200_000, 1, 5, 700, caps
        ),
        _model(
            "sim-claude-sonnet", "sim-anthropic", "claude-sonnet-4-5", 8, 200_000, 3, 15, 1500, caps
        ),
        _model("sim-llama-8b", "sim-vllm", "llama-3.1-8b", 3, 8_192, 0.0, 0.0, 400, ["json"]),
    ]
    return providers, models


def _model(
    model_id: str,
    provider: str,
    upstream: str,
    weight: int,
    context: int,
    price_in: float,
    price_out: float,
    latency_ms: float,
    caps: list[str],
) -> ModelConfig:
    return ModelConfig.model_validate(
        {
            "id": model_id,
            "provider": provider,
            "upstream_model": upstream,
            "weight": weight,
            "max_context_tokens": context,
            "input_usd_per_mtok": price_in,
            "output_usd_per_mtok": price_out,
            "expected_latency_ms": latency_ms,
            "capabilities": caps,
        }
    )


@asynccontextmanager
async def demo_environment(loaded: LoadedSettings) -> AsyncIterator[LoadedSettings]:
    """Start the simulator and a throwaway store; yield settings that use them."""
    with tempfile.TemporaryDirectory(prefix="tokenhub-demo-") as tmp:
        async with start_simulator(demo_scenario(), max_received=1000) as sim:
            providers, models = demo_registry(sim)
            db_url = f"sqlite+aiosqlite:///{Path(tmp) / 'demo.db'}"
            settings = loaded.settings.model_copy(
                update={
                    "demo": True,
                    "db_url": db_url,
                    "providers": [*loaded.settings.providers, *providers],
                    "models": [*loaded.settings.models, *models],
                }
            )
            log.warning(
                "demo mode: simulated providers at %s and a throwaway store; nothing is real",
                sim.url,
            )
            yield LoadedSettings(
                settings, loaded.sources, loaded.paths, loaded.config_file, loaded.cli_overrides
            )
