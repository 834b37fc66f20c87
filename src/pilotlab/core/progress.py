"""Progress display: a tqdm bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    """Counts work units toward `total`; call `update(n, **metrics)` then `close()`.

    On a terminal this is a tqdm bar. When stdout is not a terminal (CI, pipes) it prints one plain
    line at most every `every_s` seconds, so logs stay readable.
    """

    def __init__(self, total: int, desc: str, initial: int = 0, every_s: float = 10.0, enabled: bool = True):
        self.total, self.desc, self.n, self.every_s = total, desc, initial, every_s
        self.enabled = enabled
        self._start = time.monotonic()
        self._last = self._start
        self._bar: Any = None
        if enabled and sys.stdout.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True)

    def update(self, n: int = 1, **metrics: float) -> None:
        self.n += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            if metrics:
                self._bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()}, refresh=False)
            return
        now = time.monotonic()
        if now - self._last >= self.every_s or self.n >= self.total:
            self._last = now
            shown = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            pct = 100.0 * self.n / max(self.total, 1)
            print(
                f"{self.desc}: {self.n}/{self.total} ({pct:.0f}%) {now - self._start:.0f}s {shown}".rstrip(), flush=True
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
