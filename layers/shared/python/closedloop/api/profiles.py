from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import profiles, services, suppression
from closedloop.api.body import json_body, json_response
from closedloop.errors import InvalidInput, ProfileNotFound
from closedloop.validation import is_email, normalise_email

router = APIGatewayHttpRouter()


@router.put("/v1/profiles/<profile_id>")
def put_profile(profile_id: str) -> Response:
    now = services.clock().now()
    write = profiles.parse_profile_write(profile_id, json_body(router.current_event), now)
    profile, created = profiles.upsert(services.profiles(), write, services.config(), now)
    return json_response(201 if created else 200, profile.to_api())


@router.get("/v1/profiles")
def find_profile() -> Response:
    """GET /v1/profiles?email=ada@example.com: the profile holding the address."""
    email = (router.current_event.query_string_parameters or {}).get("email")
    if not email or not is_email(email.strip()):
        raise InvalidInput("give ?email= with an address like ada@example.com")
    profile = services.profiles().find_by_email(normalise_email(email))
    if profile is None:
        raise ProfileNotFound("no profile holds this address")
    return json_response(200, _shown(profile))


@router.get("/v1/profiles/<profile_id>")
def get_profile(profile_id: str) -> Response:
    profile = services.profiles().get(profiles.validate_profile_id(profile_id))
    if profile is None:
        raise ProfileNotFound(f"no profile with id {profile_id!r}")
    return json_response(200, _shown(profile))


def _shown(profile: profiles.Profile) -> dict:
    """A profile as GET answers it: with its address's suppression (one more GetItem), null when there is none."""
    shown = suppression.of_profile_address(services.suppressions(), profile.email, services.erasure_keys())
    return {**profile.to_api(), "suppression": shown}
