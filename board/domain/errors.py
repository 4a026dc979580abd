"""Domain failures; the web layer maps each kind to its status code."""

from __future__ import annotations


class BoardError(Exception):
    """A refusal with a message a participant or moderator can read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(BoardError):
    pass


class Invalid(BoardError):
    pass


class Forbidden(BoardError):
    pass


class Conflict(BoardError):
    pass


class TooFast(BoardError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
