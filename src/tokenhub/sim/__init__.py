"""The provider simulator: real HTTP servers speaking OpenAI, Anthropic and vLLM wire formats.

Tests, benchmarks and the demo mode talk to it instead of the real endpoints::

    async with start_simulator(default_scenario()) as sim:
        client = AsyncOpenAI(base_url=sim.base_url("openai"), api_key="x")
"""

from tokenhub.sim.core import count_tokens
from tokenhub.sim.runner import Simulator, serve_until_signalled, start_simulator
from tokenhub.sim.scenario import (
    MatchSpec,
    ModelSpec,
    Override,
    ProviderSpec,
    RateLimitSpec,
    ResponseSpec,
    Scenario,
    ScenarioError,
    ToolCallSpec,
    default_scenario,
    load_scenario,
    parse_scenario,
)
from tokenhub.sim.server import create_sim_app
from tokenhub.sim.state import Call, ReceivedRequest, SimState, StreamRecord

__all__ = [
    "Call",
    "MatchSpec",
    "ModelSpec",
    "Override",
    "ProviderSpec",
    "RateLimitSpec",
    "ReceivedRequest",
    "ResponseSpec",
    "Scenario",
    "ScenarioError",
    "SimState",
    "Simulator",
    "StreamRecord",
    "ToolCallSpec",
    "count_tokens",
    "create_sim_app",
    "default_scenario",
    "load_scenario",
    "parse_scenario",
    "serve_until_signalled",
    "start_simulator",
]
