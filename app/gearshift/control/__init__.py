"""The command line, and later the local API and the metrics exporter."""
