"""Tests that drive a real X server with a system tray; see conftest.py."""
