"""Every error closedloop raises on purpose. The admin API maps them to HTTP in one place (closedloop.api.app)."""

from __future__ import annotations


class ClosedloopError(Exception):
    """Base class; `code` is the stable machine-readable name an API caller sees."""

    code = "error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ClosedloopError):
    code = "invalid_input"
    status = 400


class NotFound(ClosedloopError):
    code = "not_found"
    status = 404


class ProfileNotFound(NotFound):
    code = "profile_not_found"


class TemplateNotFound(NotFound):
    code = "template_not_found"


class InvalidToken(ClosedloopError):
    """A tracking token that is malformed, tampered with, or signed with an unknown key."""

    code = "invalid_token"
    status = 404


class TemplateError(ClosedloopError):
    """A template that cannot render (syntax, undefined variable, sandbox violation, bad link action)."""

    code = "template_error"
    status = 422


class HeaderInjection(ClosedloopError):
    code = "header_injection"
    status = 422


class ProviderThrottled(ClosedloopError):
    """The mail provider refused for rate; the message was not sent and must be retried later."""

    code = "provider_throttled"
    status = 503


class ProviderRejected(ClosedloopError):
    """The mail provider refused the message outright; it was not sent."""

    code = "provider_rejected"
    status = 502


class DependencyFailed(ClosedloopError):
    """An AWS call failed in a way a retry may fix."""

    code = "dependency_failed"
    status = 503
