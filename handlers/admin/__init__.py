"""The operator admin pages. Each module ends in its own ``default_handlers``."""
