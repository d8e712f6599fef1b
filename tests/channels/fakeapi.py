"""Local fake provider APIs for outbound messages, each run as a process of its own on
loopback, started and stopped by the test by its PID (`FakeApi`).

`python -m tests.channels.fakeapi <provider> --port N` serves the provider module
`tests.channels.fakeapi_<provider>` (its `answer(path, headers, body)` gives (status, JSON),
or (status, bytes) for a file to download, either with the answer's headers as a third item),
plus control routes the test uses:

* `GET /_control/calls` — every request received, in order: path, headers, body (text or
  base64), and what was answered (`status`, or `fault`);
* `POST /_control/faults` — a list of faults, each `{"match": <text in the path>, "times": n}`
  and one of `{"status": 503, "retry_after": 2, "body": {...}}` (answer that instead),
  `{"hang": seconds}` (take the request as usual, then answer only after `seconds`: the
  caller times out with the message accepted) or `{"close": true}` (drop the connection
  without answering, the request not taken);
* `POST /_control/reset` — forget the calls and the faults.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.processes import ROOT, free_port, wait_for


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []

    def fault_for(self, path: str) -> dict[str, Any] | None:
        with self.lock:
            for fault in self.faults:
                if fault.get("match", "") in path and fault.get("times", 1) > 0:
                    fault["times"] = fault.get("times", 1) - 1
                    return dict(fault)
        return None


def _text(body: bytes) -> str:
    try:
        return body.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(body).decode()


def handler_for(provider: Any, state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            binary = isinstance(body, bytes)  # a file to download
            data = body if binary else json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/octet-stream" if binary else "application/json"
            )
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            try:
                self.wfile.write(data)
            except OSError:  # the caller gave up waiting (a "hang" fault): nothing to tell
                self.close_connection = True

        def _control(self, body: bytes) -> None:
            if self.path == "/_control/calls":
                with state.lock:
                    return self._reply(200, list(state.calls))
            if self.path == "/_control/faults":
                with state.lock:
                    state.faults.extend(json.loads(body or b"[]"))
                return self._reply(200, {"ok": True})
            if self.path == "/_control/reset":
                with state.lock:
                    state.calls.clear()
                    state.faults.clear()
                return self._reply(200, {"ok": True})
            return self._reply(404, {"error": "no such control"})

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path.startswith("/_control/"):
                return self._control(body)
            call = {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": _text(body),
            }
            fault = state.fault_for(self.path)
            if fault and fault.get("close"):
                call["fault"] = "close"
                with state.lock:
                    state.calls.append(call)
                self.close_connection = True
                self.connection.close()
                return None
            if fault and "status" in fault:
                call["status"] = fault["status"]
                with state.lock:
                    state.calls.append(call)
                headers = {}
                if fault.get("retry_after") is not None:
                    headers["Retry-After"] = str(fault["retry_after"])
                return self._reply(fault["status"], fault.get("body") or {}, headers)
            # (status, body), or (status, body, headers) for an answer with headers of its
            # own (a redirect's Location).
            status, answer, *more = provider.answer(self.path, call["headers"], body)
            call["status"] = status
            if fault and fault.get("hang"):
                call["fault"] = "hang"
            with state.lock:
                state.calls.append(call)
            if fault and fault.get("hang"):
                time.sleep(float(fault["hang"]))
            return self._reply(status, answer, more[0] if more else None)

        do_GET = _handle  # noqa: N815 - BaseHTTPRequestHandler's naming
        do_POST = _handle  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("provider")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    provider = importlib.import_module(f"tests.channels.fakeapi_{options.provider}")
    server = ThreadingHTTPServer(("127.0.0.1", options.port), handler_for(provider, State()))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever(poll_interval=0.05)
    server.server_close()


class FakeApi:
    """A provider's fake API in a process of its own on 127.0.0.1 (stopped by its PID)."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeApi:
        self.process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [
                sys.executable,
                "-m",
                "tests.channels.fakeapi",
                self.provider,
                "--port",
                str(self.port),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        wait_for(self._up, f"the fake {self.provider} API", seconds=20)
        return self

    def _up(self) -> bool:
        try:
            self._control("GET", "calls")
        except OSError:
            return False
        return True

    def _control(self, method: str, name: str, data: Any = None) -> Any:
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(  # noqa: S310 - loopback, http
            f"{self.base_url}/_control/{name}", data=body, method=method
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return json.loads(response.read())

    def calls(self, match: str = "") -> list[dict[str, Any]]:
        return [call for call in self._control("GET", "calls") if match in call["path"]]

    def faults(self, *faults: dict[str, Any]) -> None:
        self._control("POST", "faults", list(faults))

    def reset(self) -> None:
        self._control("POST", "reset", {})

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None


if __name__ == "__main__":
    main()
