"""gunicorn's settings in production (the Docker image runs `gunicorn crm.wsgi:application`
from here; gunicorn reads ./gunicorn.conf.py by itself).

Two listeners on the same sync workers: pages on GUNICORN_BIND (8000) and the inbound
endpoint `/in/…` on GUNICORN_INBOUND_BIND (8001), to which the reverse proxy routes
deliveries (README, "Docker"). A sync worker that finds both listeners ready accepts the
page first (it takes one connection from each ready listener, in this order), so during a
burst of deliveries a manager's request waits for at most the delivery in progress, not
for the whole queue of them (bench/README.md, "Ingestion"). Without the proxy route,
`/in/…` on 8000 works as well, queued with the pages.
"""

import os

# Loopback unless told otherwise (a proxy on the same host); the Docker image listens on
# every interface of its container (Dockerfile).
bind = [
    os.environ.get("GUNICORN_BIND", "127.0.0.1:8000"),
    os.environ.get("GUNICORN_INBOUND_BIND", "127.0.0.1:8001"),
]
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
