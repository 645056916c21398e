"""Where frame times come from: capture readers, replay and the demo feed."""
