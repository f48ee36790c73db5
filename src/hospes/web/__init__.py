"""The HTTP layer: thin endpoints that parse, call the core, and render."""
