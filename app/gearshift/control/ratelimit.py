"""Token buckets: how the control API keeps one script from hammering the machine.

Written here rather than taken from a library because the API needs two things the
candidates (``limits``, ``aiolimiter``) do not give together: a monotonic, injectable
clock, and the exact time until the next request would be allowed, for the error.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Allows ``burst`` requests at once and ``rate_per_s`` a second after that.

    Args:
        rate_per_s: tokens added per second.
        burst: the most tokens the bucket holds; also the first burst allowed.
        clock: monotonic seconds.
    """

    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"need a positive rate and burst, got {rate_per_s}, {burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> float:
        """Take a token: 0.0 when allowed, else the seconds until one is there."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate_per_s)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate_per_s

    def describe(self) -> str:
        """The limit in words, e.g. '5 at once, then 1 every 2 s'."""
        period_s = 1.0 / self.rate_per_s
        return f"{self.burst} at once, then 1 every {period_s:g} s"
