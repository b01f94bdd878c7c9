"""GET/PUT/DELETE /v1/suppressions/{email}: the suppression list by hand (closedloop.suppression holds the rules)."""

from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import services, suppression
from closedloop.api import models
from closedloop.api.body import json_response
from closedloop.api.openapi import answers

router = APIGatewayHttpRouter()

Address = Annotated[str, Path(description="The address (the @ may be sent as %40)", json_schema_extra=models.EMAIL)]
NOT_SUPPRESSED = {404: "suppression_not_found: the address is not suppressed"}


def _address(email: str) -> str:
    return suppression.parse_address(unquote(email))  # API Gateway may pass the "@" as %40


@router.get(
    "/v1/suppressions/<email>",
    summary="Whether an address is suppressed, and why",
    responses=answers((200, models.SuppressionEntry, "The entry"), errors=NOT_SUPPRESSED),
)
def get_suppression(email: Address) -> Response[models.SuppressionEntry]:
    entry = suppression.entry(services.suppressions(), _address(email), services.erasure_keys())
    return json_response(200, entry.to_api())


@router.put(
    "/v1/suppressions/<email>",
    summary="Suppress an address by hand (replaces an existing entry)",
    responses=answers((200, models.SuppressionEntry, "The entry"), body=True),
)
def put_suppression(
    email: Address, body: Annotated[models.SuppressionWrite | None, Body()] = None
) -> Response[models.SuppressionEntry]:
    address = _address(email)
    entry = suppression.by_hand(
        services.suppressions(), address, suppression.parse_reason(body and body.plain()), services.clock().now()
    )
    return json_response(200, entry.to_api())


@router.delete(
    "/v1/suppressions/<email>",
    summary="Lift a suppression",
    responses=answers((204, None, "Lifted"), errors=NOT_SUPPRESSED),
)
def delete_suppression(email: Address) -> Response[None]:
    suppression.lift(services.suppressions(), _address(email))
    return Response(status_code=204)
