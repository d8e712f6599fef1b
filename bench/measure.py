"""HTTP measurements against a running server: latency percentiles and throughput, alone or
interleaved with a floor page in short windows (page, floor, page, floor…).

Plain `http.client` (the standard library), one new connection per request, as a browser
behind a proxy would hit gunicorn's sync workers (they close the connection after each
response). Every request must answer 200: anything else stops the run.
"""

from __future__ import annotations

import http.client
import math
import re
import statistics
import threading
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlencode

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class BenchError(Exception):
    """The server answered something other than what the benchmark needs."""


@dataclass(frozen=True)
class Server:
    host: str
    port: int

    def request(
        self,
        path: str,
        *,
        cookie: str = "",
        method: str = "GET",
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of one request on a fresh connection."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            sent = {"Cookie": cookie} if cookie else {}
            sent.update(headers or {})
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            payload = response.read()
            received = {
                name.lower(): value
                for name, value in response.getheaders()
                if name.lower() != "set-cookie"
            }
            cookies = response.headers.get_all("Set-Cookie") or []
            received["set-cookie"] = "\n".join(cookies)
            return response.status, received, payload
        finally:
            connection.close()

    def get_ok(self, path: str, cookie: str) -> bytes:
        status, _headers, payload = self.request(path, cookie=cookie)
        if status != 200:
            raise BenchError(f"GET {path}: HTTP {status}")
        return payload


def _cookies(header: str) -> dict[str, str]:
    jar = SimpleCookie()
    for line in header.splitlines():
        jar.load(line)
    return {name: morsel.value for name, morsel in jar.items()}


def login(server: Server, email: str, password: str) -> str:
    """Log in through the login form (CSRF token and all); return the Cookie header."""
    status, headers, page = server.request("/accounts/login/")
    match = CSRF_FIELD.search(page.decode())
    if status != 200 or match is None:
        raise BenchError(f"GET /accounts/login/: HTTP {status}, no CSRF token")
    csrf = _cookies(headers["set-cookie"])["csrftoken"]
    body = urlencode(
        {"csrfmiddlewaretoken": match.group(1), "username": email, "password": password}
    )
    status, headers, _page = server.request(
        "/accounts/login/",
        method="POST",
        body=body,
        cookie=f"csrftoken={csrf}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    session = _cookies(headers["set-cookie"]).get("sessionid")
    if status != 302 or not session:
        raise BenchError(f"login as {email}: HTTP {status}, no session")
    return f"csrftoken={csrf}; sessionid={session}"


@dataclass(frozen=True)
class Latency:
    """Server time of sequential requests, in milliseconds."""

    samples: list[float]

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile."""
        ordered = sorted(self.samples)
        return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]

    def summary(self) -> dict[str, float]:
        return {
            "n": len(self.samples),
            "p50": round(self.percentile(50), 1),
            "p95": round(self.percentile(95), 1),
            "p99": round(self.percentile(99), 1),
            "mean": round(statistics.fmean(self.samples), 1),
            "max": round(max(self.samples), 1),
        }


def latency(
    server: Server, path: str, cookie: str, *, count: int, warmup: int, limit_s: float
) -> Latency:
    """`count` sequential requests after `warmup` (stops early after `limit_s` seconds)."""
    for _ in range(warmup):
        server.get_ok(path, cookie)
    samples: list[float] = []
    deadline = time.monotonic() + limit_s
    while len(samples) < count and time.monotonic() < deadline:
        began = time.perf_counter()
        server.get_ok(path, cookie)
        samples.append((time.perf_counter() - began) * 1000)
    return Latency(samples)


def interleaved_latency(
    server: Server,
    subject: str,
    floor: str,
    cookie: str,
    *,
    count: int,
    warmup: int,
    limit_s: float,
) -> tuple[Latency, Latency]:
    """Like `latency`, a request of `subject` then one of `floor`, `count` times: both
    sampled at the same moments of a noisy machine."""
    for _ in range(warmup):
        server.get_ok(subject, cookie)
        server.get_ok(floor, cookie)
    page: list[float] = []
    base: list[float] = []
    deadline = time.monotonic() + limit_s
    while len(page) < count and time.monotonic() < deadline:
        for path, samples in ((subject, page), (floor, base)):
            began = time.perf_counter()
            server.get_ok(path, cookie)
            samples.append((time.perf_counter() - began) * 1000)
    return Latency(page), Latency(base)


def throughput(
    server: Server, path: str, cookie: str, *, clients: int, seconds: float
) -> dict[str, float]:
    """Requests per second of `clients` threads requesting `path` back to back."""
    done = [0] * clients
    failures: list[str] = []
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        while time.monotonic() < stop and not failures:
            try:
                server.get_ok(path, cookie)
            except (BenchError, OSError) as error:
                failures.append(str(error))
                return
            done[index] += 1

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    elapsed = time.monotonic() - began
    if failures:
        raise BenchError(f"{path} under load: {failures[0]}")
    return {"requests": sum(done), "seconds": round(elapsed, 1), "rps": sum(done) / elapsed}


def interleaved_throughput(
    server: Server,
    subject: str,
    floor: str,
    cookie: str,
    *,
    clients: int,
    seconds: float,
    pairs: int,
) -> list[tuple[dict[str, float], dict[str, float]]]:
    """`pairs` pairs of adjacent windows, `subject` then `floor`, each `seconds` long: what
    a slower or busier moment does to one side of a pair, it does to the other."""
    measured = []
    for _ in range(pairs):
        page = throughput(server, subject, cookie, clients=clients, seconds=seconds)
        base = throughput(server, floor, cookie, clients=clients, seconds=seconds)
        measured.append((page, base))
    return measured
