"""GET/PUT/DELETE /v1/suppressions/{email}: the suppression list by hand (closedloop.suppression holds the rules)."""

from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import services, suppression
from closedloop.api.body import json_body, json_response

router = APIGatewayHttpRouter()


def _address(email: str) -> str:
    return suppression.parse_address(unquote(email))  # API Gateway may pass the "@" as %40


@router.get("/v1/suppressions/<email>")
def get_suppression(email: str) -> Response:
    entry = suppression.entry(services.suppressions(), _address(email), services.erasure_keys())
    return json_response(200, entry.to_api())


@router.put("/v1/suppressions/<email>")
def put_suppression(email: str) -> Response:
    address = _address(email)
    body = json_body(router.current_event) if (router.current_event.body or "").strip() else None
    entry = suppression.by_hand(
        services.suppressions(), address, suppression.parse_reason(body), services.clock().now()
    )
    return json_response(200, entry.to_api())


@router.delete("/v1/suppressions/<email>")
def delete_suppression(email: str) -> Response:
    suppression.lift(services.suppressions(), _address(email))
    return Response(status_code=204)
