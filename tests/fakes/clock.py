"""A monotonic clock that moves only when a test says so."""


class FakeClock:
    """Call it for the time in seconds; advance() moves it forward."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self.now_s += seconds

    async def sleep(self, seconds: float) -> None:
        """An asyncio.sleep stand-in that lets the time pass at once."""
        self.advance(seconds)
