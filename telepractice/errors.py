"""Domain errors, one sentence each; transports translate them in one place.

``UserError`` subclasses tell a person what went wrong and what they may do;
``ProtocolError`` subclasses mean a client broke the rules of the API.
Neither imports a transport: the HTTP middleware maps ``status`` to a response
and the WebSocket layer maps ``close_code``.
"""

from __future__ import annotations


class TelepracticeError(Exception):
    """Base of every error telepractice reports to a client."""

    status: int = 400
    code: str = "bad-request"
    title: str = "The request cannot be handled."

    def __init__(self, detail: str | None = None, **extra: object) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class ProtocolError(TelepracticeError):
    """The client sent something the API does not accept."""


class UserError(TelepracticeError):
    """Something the person using the client can understand and act on."""


class MalformedRequest(ProtocolError):
    status, code, title = 400, "malformed-request", "The request body is not valid JSON."


class InvalidField(ProtocolError):
    status, code, title = 422, "invalid-field", "A field of the request is missing or has a wrong value."


class BodyTooLarge(ProtocolError):
    status, code, title = 413, "body-too-large", "The request body is larger than the server accepts."


class NotAuthenticated(ProtocolError):
    status, code, title = 401, "not-authenticated", "A valid access token is required."


class Forbidden(ProtocolError):
    status, code, title = 403, "forbidden", "Your role does not allow this."


class NotFound(UserError):
    status, code, title = 404, "not-found", "There is no such record, or you may not see it."


class Conflict(UserError):
    status, code, title = 409, "conflict", "This conflicts with a record that already exists."


class LoginFailed(UserError):
    status, code, title = 401, "login-failed", "The user name or password is wrong, or the account is disabled."


class TooManyAttempts(UserError):
    status, code, title = 429, "too-many-attempts", "Too many attempts; wait before trying again."

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"Too many attempts; try again in {retry_after_seconds} seconds.")
        self.retry_after_seconds = retry_after_seconds


class RecordErased(UserError):
    status, code, title = 410, "record-erased", "This case record was erased and cannot be read."
