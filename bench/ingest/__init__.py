"""The ingestion benchmark: deliveries through the API channel's endpoint, the worker, leads."""
