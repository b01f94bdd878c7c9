"""Keeping a started runtime in the foreground until Ctrl-C or SIGTERM, then stopping it."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any


def serve_until_stopped(runtime: Any) -> None:
    """Block until Ctrl-C (SIGINT) or SIGTERM, then stop `runtime`; must run on the main thread."""
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        print("\nstopping ...", file=sys.stderr, flush=True)
        runtime.stop()
