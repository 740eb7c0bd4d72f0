"""Public test helpers: start a real daemon, poll with a deadline. Used by tokenhub's tests.

Nothing here is imported by the product itself.
"""

from tokenhub.testing.polling import wait_until
from tokenhub.testing.process import DaemonProcess, run_cli, start_daemon

__all__ = ["DaemonProcess", "run_cli", "start_daemon", "wait_until"]
