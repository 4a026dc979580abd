"""Domain failures; the web layer maps each kind to its status code."""

from __future__ import annotations


class BoardError(Exception):
    """A refusal with a message a participant or moderator can read.

    The message is a French template with named fields, so the web layer can look it up
    in a translation catalog before filling it in.
    """

    def __init__(self, template: str, **params: object) -> None:
        self.template = template
        self.params = params
        self.message = template.format(**params)
        super().__init__(self.message)


class NotFound(BoardError):
    pass


class Invalid(BoardError):
    pass


class Forbidden(BoardError):
    pass


class Conflict(BoardError):
    pass


class TooFast(BoardError):
    def __init__(self, template: str, retry_after: int) -> None:
        super().__init__(template, wait=retry_after)
        self.retry_after = retry_after


class InvalidFields(Invalid):
    """Several fields of one form refused at once, each with its own message (a template and its fields),
    so that a page can show every message beside its field."""

    def __init__(self, fields: dict[str, tuple[str, dict[str, object]]]) -> None:
        super().__init__("Le formulaire contient des erreurs : corrigez les champs signalés.")
        self.fields = fields


class Gone(BoardError):
    """A one-time link already used, expired or withdrawn."""
