"""Deals: pipelines, stages, the deal board, won and lost."""
