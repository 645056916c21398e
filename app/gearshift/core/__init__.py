"""The domain: modes, the switching transaction, frame-time statistics. No Qt, no I/O."""
