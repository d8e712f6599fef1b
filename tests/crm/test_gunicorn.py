"""gunicorn.conf.py as production runs it: pages and the inbound endpoint on two listeners of
the same sync workers, the pages' listener first, so a page waits for at most the delivery in
progress and not for the queue of deliveries behind it (bench/README.md, "Ingestion")."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_page_is_accepted_before_queued_deliveries(tmp_path: Path) -> None:
    pages, inbound = free_port(), free_port()
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(
        GUNICORN_BIND=f"127.0.0.1:{pages}",
        GUNICORN_INBOUND_BIND=f"127.0.0.1:{inbound}",
        WEB_CONCURRENCY="1",  # one worker: what it accepts next is the whole question
        GUNICORN_ACCESS_LOG="",
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: S603 - our own command
            [str(GUNICORN), "-c", str(ROOT / "gunicorn.conf.py"), "tests.crm.slow_wsgi"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert get(pages, "/healthz") == 200
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)

        done: list[str] = []
        lock = threading.Lock()

        def fetch(port: int, path: str) -> None:
            assert get(port, path) == 200
            with lock:
                done.append(path)

        # Four deliveries (0.5 s each) queue on the inbound listener; a page arrives while
        # the first is in progress.
        threads = [
            threading.Thread(target=fetch, args=(inbound, f"/in/token/{n}")) for n in range(4)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.15)
        page = threading.Thread(target=fetch, args=(pages, "/leads/inbox/"))
        page.start()
        for thread in [*threads, page]:
            thread.join(timeout=20)

        assert len(done) == 5
        # Served right after the delivery in progress (or before it, when a loaded machine
        # started the deliveries late), not after the three queued behind it (one
        # listener: 4th) nor with the next one (listeners the other way round: 2nd).
        assert done.index("/leads/inbox/") <= 1, done
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
