"""GET /v1/profiles/{id}/export and DELETE /v1/profiles/{id}: GDPR access and erasure (closedloop.privacy)."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import privacy, services
from closedloop.api import models
from closedloop.api.body import json_response
from closedloop.api.openapi import answers
from closedloop.api.profiles import ProfileId

router = APIGatewayHttpRouter()
NO_PROFILE = {404: "profile_not_found"}


def _collaborators() -> dict:
    return {
        "profiles": services.profiles(),
        "records": services.personal_records(),
        "suppressions": services.suppressions(),
        "erasure": services.erasure_keys(),
        "now": services.clock().now(),
    }


@router.get(
    "/v1/profiles/<profile_id>/export",
    summary="Everything stored about the person (GDPR access)",
    responses=answers((200, models.Export, "The export"), errors=NO_PROFILE),
)
def export_profile(profile_id: ProfileId) -> Response[models.Export]:
    return json_response(200, privacy.export(profile_id, **_collaborators()))


@router.delete(
    "/v1/profiles/<profile_id>",
    summary="Erase the person (GDPR erasure); their address stays suppressed as a keyed hash",
    responses=answers((204, None, "Erased"), errors=NO_PROFILE),
)
def delete_profile(profile_id: ProfileId) -> Response[None]:
    privacy.erase(profile_id, **_collaborators())
    return Response(status_code=204)
