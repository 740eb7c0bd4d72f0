"""What the upstream client raises, and the timeouts it enforces.

The client's own failures are ``ConnectionError``s or ``TimeoutError``s, so ``classify``
calls them transient (a peer may answer). ``PoolExhaustedError`` is deliberately neither:
a request that found every connection slot taken says nothing about the upstream, and
the adapter reports it as ``overloaded`` (tokenhub's own limit), never as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass


class UpstreamDisconnectedError(ConnectionError):
    """The upstream closed the connection before its answer began."""

    def __init__(self, *, stale: bool = False) -> None:
        super().__init__("the upstream closed the connection")
        self.stale = stale
        """Whether a reused connection closed before a byte came back (safe to resend)."""


class UpstreamBodyCutError(ConnectionError):
    """The connection closed in the middle of the answer."""

    def __init__(self) -> None:
        super().__init__("the upstream cut the body short")


class UpstreamBadHttpError(ConnectionError):
    """The upstream's bytes are not HTTP/1.1 tokenhub can read."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"the upstream sent malformed HTTP ({detail})")


class ClientClosedError(ConnectionError):
    """The client was closed while the request waited or ran."""

    def __init__(self) -> None:
        super().__init__("the provider's connections were closed")


class ProxyRefusedError(ConnectionError):
    """The outbound proxy could not be reached, refused the tunnel or did not speak HTTP."""

    def __init__(self, proxy: str, detail: str) -> None:
        super().__init__(f"the proxy {proxy} {detail}")


class UpstreamTimeoutError(TimeoutError):
    """A connect, first-byte, silence or total timeout ran out."""


class PoolExhaustedError(Exception):
    """Every connection slot of the provider stayed taken past the wait's bound.

    Not an ``OSError`` nor a ``TimeoutError``: tokenhub's own limit, not the upstream's fault.
    """

    def __init__(self, limit: int, *, stream: bool) -> None:
        what = "streaming connection slots" if stream else "connection slots"
        super().__init__(f"all {limit} {what} stayed in use")
        self.limit = limit
        self.stream = stream


TRANSPORT_ERRORS = (
    UpstreamDisconnectedError,
    UpstreamBodyCutError,
    UpstreamBadHttpError,
    ClientClosedError,
    ProxyRefusedError,
)
"""The failures the client detects itself; their message says what happened."""


class HeaderError(ValueError):
    """A header name or value would break the request (a line break in a credential, say)."""


@dataclass(frozen=True, slots=True)
class AttemptTimeout:
    """The timeouts of one attempt, in seconds."""

    total: float
    """Everything, from asking for a connection to the answer's last byte."""
    connect: float
    """Waiting for a free connection slot and opening a connection."""
    read: float
    """The wait for the first byte of the answer, and every silence after it."""
    first_byte: float | None = None
    """A shorter wait for the first byte (the executor's adaptive timeout); None: ``read``."""
