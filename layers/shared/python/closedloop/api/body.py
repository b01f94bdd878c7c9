"""Request bodies in, JSON out: the size limit and the error shape every admin route shares."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response

from closedloop.errors import ClosedloopError, InvalidInput

MAX_BODY_BYTES = 64 * 1024


class PayloadTooLarge(ClosedloopError):
    code = "payload_too_large"
    status = 413


def json_body(event) -> object:
    raw = event.decoded_body or ""
    if len(raw.encode()) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES // 1024} KiB")
    try:
        return json.loads(raw)
    except ValueError as error:
        raise InvalidInput("the body is not valid JSON") from error


def json_response(status: int, payload: dict) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(payload))


def error_response(error: ClosedloopError) -> Response:
    return json_response(error.status, {"code": error.code, "message": error.message})
