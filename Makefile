# Voronka: `make run` serves the demo on http://127.0.0.1:8000, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# Migrations run as the tables' owner when DATABASE_OWNER_URL is given.
# The owner then grants row rights to the app role: the user of DATABASE_URL.
APP_ROLE_OF_URL = $(PY) -c 'import environ, os; print(environ.Env.db_url_config(os.environ["DATABASE_URL"])["USER"])'
MIGRATE_ENV = $(if $(DATABASE_OWNER_URL),DATABASE_APP_ROLE="$${DATABASE_APP_ROLE:-$$($(APP_ROLE_OF_URL))}" DATABASE_URL="$(DATABASE_OWNER_URL)",)

.PHONY: run test install lint format migrations messages

$(STAMP):
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

.env:
	cp .env.example .env

install: $(STAMP) .env

run: install
	$(MIGRATE_ENV) $(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@if [ -n "$$REDIS_URL" ]; then \
	  $(VENV)/bin/celery -A crm worker --beat --loglevel INFO --concurrency 2 & worker=$$!; \
	  trap "kill $$worker 2>/dev/null" EXIT INT TERM; \
	  $(PY) manage.py runserver 127.0.0.1:8000; \
	else \
	  echo "No REDIS_URL: background tasks and periodic jobs run in this process."; \
	  $(PY) manage.py runembedded 127.0.0.1:8000; \
	fi

# Two test processes (pytest-xdist): the suite's real servers, workers and browsers wait
# more than they compute. On PostgreSQL + Redis + Chromium: 9 min instead of 15 (2026-12-05).
PYTEST_ARGS ?= -n 2
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py makemigrations accessapp --check --dry-run

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrations: $(STAMP)
	DEBUG=1 $(PY) manage.py makemigrations

messages: $(STAMP)
	DEBUG=1 $(PY) manage.py makemessages --locale ru --ignore ".venv/*" --ignore "tests/*" --ignore "bench/*"
	DEBUG=1 $(PY) manage.py compilemessages --locale ru --ignore ".venv/*"

# Load benchmark of the lead lists on PostgreSQL (bench/README.md): BENCH_LEADS=10000000 make bench
.PHONY: bench
bench: $(STAMP)
	$(PY) -m bench.run --leads $${BENCH_LEADS:-1000000}

# Analytics benchmark on a loaded database (bench/README.md, "Analytics"):
# BENCH_LEADS=10000000 make bench-analytics
.PHONY: bench-analytics
bench-analytics: $(STAMP)
	$(PY) -m bench.analytics --leads $${BENCH_LEADS:-1000000}

# Ingestion benchmark on PostgreSQL + Redis + wrk (bench/README.md, "Ingestion"):
# BENCH_DELIVERIES=5000 make bench-ingest
.PHONY: bench-ingest
bench-ingest: $(STAMP)
	$(PY) -m bench.ingest.run --deliveries $${BENCH_DELIVERIES:-5000}

# Import benchmark: a 100k-row leads CSV into a tenant of 1M leads against COPY, and a
# 1,048,576-row file (bench/README.md, "Import"): BENCH_IMPORT_ROWS=100000 make bench-import
.PHONY: bench-import
bench-import: $(STAMP)
	$(PY) -m bench.imports.run --rows $${BENCH_IMPORT_ROWS:-100000}

# Live arrivals benchmark: 200 open inboxes polling idle, on PostgreSQL + Redis
# (bench/README.md, "Live arrivals"): BENCH_LEADS=20000 make bench-live
.PHONY: bench-live
bench-live: $(STAMP)
	$(PY) -m bench.live --leads $${BENCH_LEADS:-20000}
