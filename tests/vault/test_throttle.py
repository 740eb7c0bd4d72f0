import pytest

from tokenhub.clock import FakeClock
from tokenhub.errors import VaultThrottledError
from tokenhub.vault.throttle import Throttle, penalty_delay


def test_delay_grows_and_is_capped():
    """Delays run 0, 0, 1, 2, 4, 8, 16, then stay at the 30 s cap."""
    assert [penalty_delay(n) for n in range(1, 10)] == [0, 0, 1, 2, 4, 8, 16, 30, 30]
    assert penalty_delay(10_000) == 30


def test_attempts_inside_the_window_are_refused():
    """check() raises with the remaining wait until the clock passes the penalty."""
    clock = FakeClock()
    throttle = Throttle(clock)
    for _ in range(4):
        throttle.failed()
    clock.advance(0.5)
    with pytest.raises(VaultThrottledError) as info:
        throttle.check()
    assert info.value.retry_after == 1.5
    assert info.value.details() == {"retry_after": 1.5}
    clock.advance(1.5)
    throttle.check()


def test_success_resets():
    """succeeded() clears the counter and the window."""
    clock = FakeClock()
    throttle = Throttle(clock)
    for _ in range(5):
        throttle.failed()
    throttle.succeeded()
    assert (throttle.failures, throttle.retry_after()) == (0, 0.0)
    throttle.check()
