"""GPU telemetry and control. Nothing lives here yet: the NVML adapter comes with GPU support."""
