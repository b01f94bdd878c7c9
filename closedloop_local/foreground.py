"""Starting a runtime for a console command, and keeping it in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any


def started(runtime: Any, command: str) -> bool:
    """Start `runtime`; if it cannot (broken content, a taken port), say why in one line on stderr and answer False."""
    from closedloop.errors import ConfigError

    try:
        runtime.start()
    except ConfigError as error:
        print(f"{command}: {error}", file=sys.stderr)
        return False
    except OSError as error:
        print(f"{command}: cannot listen on {runtime.address}: {error} (is a runtime there already?)", file=sys.stderr)
        return False
    return True


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
