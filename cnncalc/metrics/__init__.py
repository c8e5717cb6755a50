"""One metric per module, one dispatcher per module, a `match` on the layer kind."""
