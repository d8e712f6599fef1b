# Voronka web/worker image: gunicorn serves the app, WhiteNoise its static files.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ENV_FILE=/nonexistent

WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install .

COPY . .
# Collect static files with the production (manifest) storage; the key is build-time only.
RUN DEBUG=0 SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput \
 && useradd --create-home --uid 1000 voronka \
 && mkdir -p /app/media \
 && chown -R voronka /app/staticfiles /app/media

USER voronka
# 8000: pages (and everything else); 8001: the inbound endpoint, on the same workers with
# the pages first (gunicorn.conf.py).
ENV GUNICORN_BIND=0.0.0.0:8000 GUNICORN_INBOUND_BIND=0.0.0.0:8001
EXPOSE 8000 8001
CMD ["gunicorn", "crm.wsgi:application"]
