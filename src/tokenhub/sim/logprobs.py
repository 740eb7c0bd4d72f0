"""Made-up but well-formed token log probabilities for the Chat Completions ``logprobs``.

Each value is a pure function of the token, so a replayed scenario answers alike and no
random draw moves the other seeded sequences. The sampled token is the most likely one,
as with greedy decoding, and leads its ``top_logprobs``.
"""

from __future__ import annotations

import zlib
from typing import Any

MAX_TOP_LOGPROBS = 20
"""The most alternatives a request may ask for (``top_logprobs``)."""

_ALTERNATIVES = (
    " the", " a", " and", " to", " of", " in", " is", " it", " that", " for", " on",
    " with", " as", " at", " by", " this", " be", " or", " an", " are", " from", " we",
)  # fmt: skip


def token_logprob(token: str, top: int) -> dict[str, Any]:
    """One ``logprobs.content`` entry: the token, its logprob, bytes and ``top`` alternatives."""
    spread = zlib.crc32(token.encode())
    chosen = -round((spread % 1000) / 4000, 6)
    entry: dict[str, Any] = {"token": token, "logprob": chosen, "bytes": list(token.encode())}
    alternatives = [_entry(token, chosen)] if top else []
    others = (t for t in _ALTERNATIVES if t != token)
    for rank, other in zip(range(1, top), others, strict=False):
        # Each step loses at least 2 nats, so the list stays in descending order.
        logprob = round(chosen - 2 * rank - ((spread >> rank) % 100) / 100, 6)
        alternatives.append(_entry(other, logprob))
    entry["top_logprobs"] = alternatives
    return entry


def _entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode())}
