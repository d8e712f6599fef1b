"""Domain errors that services raise and views turn into messages and status codes."""

from __future__ import annotations


class DomainError(Exception):
    """A request that the rules refuse (HTTP 400 with the message shown to the user)."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
