"""Contacts and companies: people and firms, match keys, duplicates and merge."""
