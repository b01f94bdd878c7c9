"""One long step reported on one line while it runs: its label, a count now and then, and the time it took."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO


class Progress:
    """`with Progress("label") as step: step.watch(probe)`; prints each new probe value, flushed, until the end."""

    def __init__(self, label: str, *, out: TextIO | None = None, every_s: float = 1.0) -> None:
        self._label = label
        self._out = out or sys.stdout
        self._every_s = every_s
        self._last: str | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._watcher: threading.Thread | None = None
        self._started = 0.0
        self.elapsed_s = 0.0

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        self._out.write(f"   {self._label}:")
        self._out.flush()
        return self

    def update(self, value: Any) -> None:
        """Print `value` after what is on the line, unless it is what was printed last."""
        text = str(value)
        with self._lock:
            if text != self._last and not self._done.is_set():
                self._last = text
                self._out.write(f" {text}")
                self._out.flush()

    def watch(self, probe: Callable[[], Any]) -> None:
        """Call `probe` every `every_s` seconds until the step ends, printing what it answers."""

        def keep_watching() -> None:
            while not self._done.wait(self._every_s):
                try:
                    self.update(probe())
                except Exception:  # a failed probe must not break the step it reports on
                    pass

        self._watcher = threading.Thread(target=keep_watching, name="progress", daemon=True)
        self._watcher.start()

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            self._done.set()
        if self._watcher is not None:
            self._watcher.join()
        self.elapsed_s = time.monotonic() - self._started
        self._out.write(f" ({self.elapsed_s:.1f} s)\n")
        self._out.flush()


class Bar:
    """`bar.show(done, total)`: a bar redrawn in place on a terminal; elsewhere a line per tenth of the way."""

    def __init__(self, label: str, *, out: TextIO | None = None, width: int = 30) -> None:
        self._label = label
        self._out = out or sys.stdout
        self._width = width
        self._tty = self._out.isatty()
        self._last_tenth = -1

    def show(self, done: int, total: int) -> None:
        """`total` 0: not known yet (the bar waits at 0 %, rather than claiming it is done)."""
        share = min(1.0, done / total) if total else 0.0
        filled = round(share * self._width)
        of = f"{total:,}" if total else "?"
        text = f"   {self._label} [{'#' * filled}{'.' * (self._width - filled)}] {share:4.0%}  {done:,}/{of}"
        if self._tty:
            self._out.write(f"\r{text}")
        elif int(share * 10) != self._last_tenth:
            self._last_tenth = int(share * 10)
            self._out.write(f"{text}\n")
        self._out.flush()

    def end(self) -> None:
        if self._tty:
            self._out.write("\n")
            self._out.flush()
