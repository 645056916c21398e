"""Qt only: tray, window, graph and dialogs. Holds no domain logic."""
