"""Every error closedloop raises on purpose. The admin API maps them to HTTP in one place (closedloop.api.app)."""

from __future__ import annotations


class ClosedloopError(Exception):
    """Base class; `code` is the stable machine-readable name, `status` what the admin API answers with it."""

    code = "error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ClosedloopError):
    code = "invalid_input"
    status = 400


class ConfigError(ClosedloopError):
    """The deployed configuration or templates are broken: the operator's problem, never the caller's."""

    code = "config_error"
    status = 500


class NotFound(ClosedloopError):
    code = "not_found"
    status = 404


class ProfileNotFound(NotFound):
    code = "profile_not_found"


class MessageNotFound(NotFound):
    code = "message_not_found"


class SuppressionNotFound(NotFound):
    code = "suppression_not_found"


class TemplateNotFound(NotFound):
    code = "template_not_found"


class SegmentNotFound(NotFound):
    code = "segment_not_found"


class PreviewTooSlow(ClosedloopError):
    """A segment preview could not read every profile within the time an API call may take."""

    code = "preview_too_slow"
    status = 503


class InvalidToken(ClosedloopError):
    """A tracking token that is malformed, tampered with, or signed with an unknown key."""

    code = "invalid_token"


class UnknownKeyId(InvalidToken):
    """A well-formed token signed with a key id this container does not know (new, or rotated away)."""


class TemplateError(ClosedloopError):
    """A template that cannot render (syntax, undefined variable, sandbox violation, bad link action)."""

    code = "template_error"
    status = 422


class HeaderInjection(ClosedloopError):
    """A header value that would break the message (a line break, NUL, over-long): it cannot be sent."""

    code = "header_injection"
    status = 422


class NotSubscribed(ClosedloopError):
    code = "not_subscribed"
    status = 409


class EmailTaken(ClosedloopError):
    code = "email_taken"
    status = 409


class ConsentWithdrawn(ClosedloopError):
    """The person withdrew consent themselves; only their own new double opt-in can give it again."""

    code = "consent_withdrawn"
    status = 409


class ConcurrentUpdate(ClosedloopError):
    """A conditional write found the item changed since it was read; the caller reads again and retries."""

    code = "concurrent_update"


class ProviderThrottled(ClosedloopError):
    """The mail provider refused for rate; the message was not sent and must be retried later."""

    code = "provider_throttled"


class ProviderRejected(ClosedloopError):
    """The mail provider refused this message for good (bad address, unverified sender); it was not sent."""

    code = "provider_rejected"


class ProviderUnavailable(ClosedloopError):
    """The provider could not be reached, or failed before accepting: provably not sent, a retry may work."""

    code = "provider_unavailable"


class DependencyFailed(ClosedloopError):
    """An AWS call failed in a way a retry may fix."""

    code = "dependency_failed"
    status = 503


class BodyTooLarge(ClosedloopError):
    """A public form's body beyond its limit (the admin API's own limit is closedloop.api.body.PayloadTooLarge)."""

    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(ClosedloopError):
    code = "unsupported_media_type"
    status = 415
