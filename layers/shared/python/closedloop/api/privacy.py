"""GET /v1/profiles/{id}/export and DELETE /v1/profiles/{id}: GDPR access and erasure (closedloop.privacy)."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import privacy, services
from closedloop.api.body import json_response

router = APIGatewayHttpRouter()


def _collaborators() -> dict:
    return {
        "profiles": services.profiles(),
        "records": services.personal_records(),
        "suppressions": services.suppressions(),
        "erasure": services.erasure_keys(),
        "now": services.clock().now(),
    }


@router.get("/v1/profiles/<profile_id>/export")
def export_profile(profile_id: str) -> Response:
    return json_response(200, privacy.export(profile_id, **_collaborators()))


@router.delete("/v1/profiles/<profile_id>")
def delete_profile(profile_id: str) -> Response:
    privacy.erase(profile_id, **_collaborators())
    return Response(status_code=204)
