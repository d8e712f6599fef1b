"""Test-only app: an owned model for testing the access API independently of later apps."""
