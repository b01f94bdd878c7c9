from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import profiles, services, suppression, tokens
from closedloop.api import models
from closedloop.api.body import json_response
from closedloop.api.openapi import answers
from closedloop.errors import InvalidInput, ProfileNotFound
from closedloop.validation import is_email, normalise_email

router = APIGatewayHttpRouter()

ProfileId = Annotated[
    str,
    Path(description="1-64 letters, digits, '_', ':' or '-'", json_schema_extra={"pattern": tokens.PROFILE_ID.pattern}),
]


@router.put(
    "/v1/profiles/<profile_id>",
    summary="Create or update a profile (merged, never overwritten)",
    responses=answers(
        (200, models.Profile, "Updated"),
        (201, models.Profile, "Created"),
        errors={409: "email_taken: another profile holds the address; consent_withdrawn: they unsubscribed themselves"},
        body=True,
    ),
)
def put_profile(profile_id: ProfileId, body: Annotated[models.ProfileWrite, Body()]) -> Response[models.Profile]:
    now = services.clock().now()
    write = profiles.parse_profile_write(profile_id, body.plain(), now)
    profile, created = profiles.upsert(services.profiles(), write, services.config(), now)
    return json_response(201 if created else 200, profile.to_api())


@router.get(
    "/v1/profiles",
    summary="The profile holding an address",
    responses=answers((200, models.ShownProfile, "The profile"), errors={404: "profile_not_found"}),
)
def find_profile(
    email: Annotated[str, Query(description="e.g. ada@example.com", json_schema_extra=models.EMAIL)],
) -> Response[models.ShownProfile]:
    """GET /v1/profiles?email=ada@example.com: the profile holding the address."""
    if not is_email(email.strip()):
        raise InvalidInput("give ?email= with an address like ada@example.com")
    profile = services.profiles().find_by_email(normalise_email(email))
    if profile is None:
        raise ProfileNotFound("no profile holds this address")
    return json_response(200, _shown(profile))


@router.get(
    "/v1/profiles/<profile_id>",
    summary="A profile with its interests, aggregates, consent and suppression",
    responses=answers((200, models.ShownProfile, "The profile"), errors={404: "profile_not_found"}),
)
def get_profile(profile_id: ProfileId) -> Response[models.ShownProfile]:
    profile = services.profiles().get(profiles.validate_profile_id(profile_id))
    if profile is None:
        raise ProfileNotFound(f"no profile with id {profile_id!r}")
    return json_response(200, _shown(profile))


def _shown(profile: profiles.Profile) -> dict:
    """A profile as GET answers it: with its address's suppression (one more GetItem), null when there is none."""
    shown = suppression.of_profile_address(services.suppressions(), profile.email, services.erasure_keys())
    return {**profile.to_api(), "suppression": shown}
