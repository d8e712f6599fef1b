"""The import benchmark (issue 16, "Performance"): a generated Bitrix24-like leads CSV
(bench/imports/generate.py) imported with `manage.py import_file` into a tenant holding 1M
leads, against PostgreSQL's COPY of the same rows (bench/imports/run.py)."""
