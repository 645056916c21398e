"""Actions a mode applies to the machine. The foundation has none yet beyond the core's own."""
