from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import admin, services
from closedloop.api.body import json_body, json_response

router = APIGatewayHttpRouter()


@router.put("/v1/profiles/<profile_id>")
def put_profile(profile_id: str) -> Response:
    profile, created = admin.upsert_profile(
        profile_id, json_body(router.current_event), services.profiles(), services.config(), services.clock().now()
    )
    return json_response(201 if created else 200, profile.to_api())


@router.get("/v1/profiles/<profile_id>")
def get_profile(profile_id: str) -> Response:
    return json_response(200, admin.get_profile(profile_id, services.profiles()).to_api())
