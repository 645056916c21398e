"""GPU telemetry and what the card supports: the NVML adapter (the only module that
imports pynvml, beside the fake library that mimics it), the sampler, the capability
probe and the quality presets the card suggests."""
