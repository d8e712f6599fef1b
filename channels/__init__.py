"""Inbound channels: provider endpoints, stored deliveries and ingestion tasks."""
