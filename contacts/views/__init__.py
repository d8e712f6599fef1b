"""HTTP adapters for contacts and companies: lists, the card and its actions, merges."""
