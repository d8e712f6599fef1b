"""HTTP adapters of the core, one module per area."""
