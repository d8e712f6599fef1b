"""HTTP adapters for leads: lists, the card and its actions, status settings."""
