"""The admin resolver: authentication, routers, and the one place domain errors become HTTP responses."""

from __future__ import annotations

import hmac

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from closedloop import services
from closedloop.api import (
    campaigns,
    events,
    imports,
    messages,
    openapi,
    privacy,
    profiles,
    segments,
    sending,
    suppressions,
)
from closedloop.api.body import error_response, json_response
from closedloop.errors import ClosedloopError, DependencyFailed
from closedloop.observability import logger


def require_api_key(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
    """Bearer API key, compared in constant time; missing and wrong keys look the same to the caller."""
    header = app.current_event.headers.get("authorization") or ""
    scheme, _, presented = header.partition(" ")
    expected = services.api_key()
    # An empty configured key lets nobody in: an empty presented key would otherwise compare equal.
    valid = bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(presented.encode(), expected.encode())
    if not valid:
        return json_response(401, {"code": "unauthorized", "message": "A valid API key is required."})
    return next_middleware(app)


def build() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()
    # The key first, then Powertools' request validation (why in this order: closedloop.api.openapi).
    app.use(middlewares=[require_api_key, openapi.ValidateAfterKey()])
    for router in (profiles.router, events.router, messages.router, suppressions.router, imports.router):
        app.include_router(router)
    for router in (sending.router, privacy.router, segments.router):
        app.include_router(router)
    app.include_router(campaigns.router)
    openapi.serve_document(app)

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response:
        return error_response(openapi.invalid_input(error))

    @app.exception_handler(ClosedloopError)
    def domain_error(error: ClosedloopError) -> Response:
        if error.status >= 500:
            logger.error("the admin API could not answer", extra={"code": error.code, "reason": error.message})
        return error_response(error)

    @app.not_found
    def not_found(_error) -> Response:
        return json_response(404, {"code": "route_not_found", "message": "No such route."})

    @app.exception_handler([BotoCoreError, ClientError, PynamoDBException])
    def dependency_failed(error: Exception) -> Response:
        # Nothing was half-written: each route makes one write (or an atomic transaction) before it answers.
        logger.exception("an AWS call failed in the admin API")
        return error_response(DependencyFailed("A service closedloop depends on failed; please retry."))

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response:
        logger.exception("unexpected error in the admin API")
        return json_response(500, {"code": "internal_error", "message": "Something went wrong; it has been logged."})

    return app
