"""Gearshift: moves a gaming PC between Immersive and Competitive performance modes."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gearshift")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
