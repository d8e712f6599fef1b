"""A TCP forwarder between the real-worker stack and PostgreSQL, for the database-fault
tests (tests/channels/test_database_faults.py): the shared server is never stopped, the
stack reaches it through this proxy instead, which the test can

- `cut()`: close every open connection and refuse new ones (the port closed: PostgreSQL
  unreachable, or stopped in immediate mode — its backends gone, their transactions
  rolled back);
- `blackhole()`: close every open connection and accept new ones without ever answering
  (a host that does not respond: only the client's connect timeout ends the attempt);
- `resume()`: accept and forward again;
- `restart(seconds)`: cut, refuse for `seconds`, accept again.

Threads only, on 127.0.0.1; every thread is a daemon and `stop()` joins them, bounded.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.processes import free_port

FORWARD, REFUSE, HANG = "forward", "refuse", "hang"


class PgProxy:
    """Forward 127.0.0.1:`port` to `target`, with faults on demand."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.target = target
        self.port = free_port()
        self._mode = FORWARD
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self.connections = 0  # forwarded so far

    # --- Faults -------------------------------------------------------------------------

    def cut(self) -> None:
        """Close every connection and the port: new ones are refused."""
        with self._lock:
            self._mode = REFUSE
        self._close_listener()
        self._close_all()

    def blackhole(self) -> None:
        """Close every connection; accept new ones and never answer them."""
        with self._lock:
            self._mode = HANG
        self._close_all()
        if self._listener is None:
            self._listen()

    def resume(self) -> None:
        """Forward new connections again (the silent ones of a blackhole are closed)."""
        with self._lock:
            silent, self._mode = self._mode == HANG, FORWARD
        if silent:
            self._close_all()
        if self._listener is None:
            self._listen()

    def restart(self, seconds: float) -> None:
        """As a server restarted in immediate mode: cut, refuse `seconds`, accept again."""
        self.cut()
        time.sleep(seconds)
        self.resume()

    # --- Life ---------------------------------------------------------------------------

    def start(self) -> None:
        self._listen()

    def stop(self) -> None:
        self.cut()
        for thread in self._threads:
            thread.join(timeout=5)

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    # --- Inside -------------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(self.address)
        listener.listen(128)
        listener.settimeout(0.1)
        self._listener = listener
        acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor = acceptor
        self._spawn(acceptor)

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
            self._acceptor = None

    def _spawn(self, thread: threading.Thread) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _address = listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by cut()
                return
            client.settimeout(None)
            with self._lock:
                mode = self._mode
                if mode != REFUSE:
                    self._open.add(client)
            if mode == REFUSE:
                client.close()
            elif mode == FORWARD:
                self._spawn(threading.Thread(target=self._link, args=(client,), daemon=True))
            # HANG: kept open and silent until the next cut, blackhole or resume

    def _link(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            self._close(client)
            return
        upstream.settimeout(None)
        with self._lock:
            if self._mode != FORWARD or client not in self._open:
                upstream.close()
                return
            self._open.add(upstream)
            self.connections += 1
        self._spawn(threading.Thread(target=self._pump, args=(upstream, client), daemon=True))
        self._pump(client, upstream)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        self._close(source)
        self._close(sink)

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def _close_all(self) -> None:
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            self._close(sock)


@contextmanager
def running_proxy(target: tuple[str, int] = ("127.0.0.1", 5432)) -> Iterator[PgProxy]:
    """A started proxy, stopped afterwards."""
    proxy = PgProxy(target)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
