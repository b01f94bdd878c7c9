"""Campaigns: POST /v1/campaigns, GET /v1/campaigns, GET /v1/campaigns/{id}, and /send, /pause, /resume, /cancel."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import campaigns, services
from closedloop.api import models
from closedloop.api.body import json_response
from closedloop.api.openapi import answers

router = APIGatewayHttpRouter()
CampaignId = Annotated[str, Path(description="As POST /v1/campaigns answered it.", max_length=64)]
WRONG_STATE = (
    "campaign_already_sending, campaign_already_sent, campaign_cancelled, campaign_not_sending, campaign_not_paused"
)
MAX_PAGE = 100


def _segment_store():
    return services.segment_store()


def _show(campaign: dict) -> dict:
    store = services.campaign_store()
    summary = services.campaign_stats().summary(campaign["campaign_id"])
    return campaigns.view(campaign, store.progress(campaign["campaign_id"]), summary)


@router.post(
    "/v1/campaigns",
    summary="Create a campaign (a draft): audience, content, A/B test, stages",
    responses=answers(
        (201, models.CampaignCreated, "Created, as a draft: POST /v1/campaigns/{campaign_id}/send sends it"),
        errors={404: "template_not_found, segment_not_found"},
        body=True,
    ),
)
def create_campaign(body: Annotated[models.CampaignCreate, Body()]) -> Response[models.CampaignCreated]:
    now = services.clock().now()
    definition = campaigns.parse_definition(
        body.plain(),
        template_exists=services.preview_renderer().exists,
        segment_exists=lambda segment_id: _segment_store().get(segment_id) is not None,
        topics=services.config().topic_ids,
        now=now,
    )
    return json_response(201, campaigns.create(definition, services.campaign_store(), now))


@router.get(
    "/v1/campaigns",
    summary="Campaigns, newest first",
    responses=answers((200, models.CampaignList, "A page of campaigns")),
)
def list_campaigns(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many (default 25).")] = 25,
    cursor: Annotated[str | None, Query(max_length=200, description="From the previous page.")] = None,
) -> Response[models.CampaignList]:
    found, next_cursor = services.campaign_store().list(limit, cursor)
    return json_response(200, {"campaigns": [campaigns.listed(c) for c in found], "cursor": next_cursor})


@router.get(
    "/v1/campaigns/<campaign_id>",
    summary="A campaign: definition, status, progress, targeted, the A/B winner and statistics",
    responses=answers((200, models.Campaign, "The campaign"), errors={404: "campaign_not_found"}),
)
def get_campaign(campaign_id: CampaignId) -> Response[models.Campaign]:
    return json_response(200, _show(campaigns.get(services.campaign_store(), campaign_id)))


def _act(action: str, campaign_id: str, status: int) -> Response:
    store = services.campaign_store()
    campaign = campaigns.get(store, campaign_id)
    dispatch = services.dispatcher()
    if action == "send":
        campaigns.refuse_unless_allowed("send", campaign["status"])
        updated = dispatch.send(campaign, campaigns.rules_at_send(campaign["definition"], _segment_store()))
    else:
        updated = getattr(dispatch, action)(campaign)
    return json_response(status, _show(updated))


_TRANSITION_ERRORS = {404: "campaign_not_found, segment_not_found (deleted since)", 409: WRONG_STATE}


@router.post(
    "/v1/campaigns/<campaign_id>/send",
    summary="Send a draft campaign now (sending), or at its send_at (scheduled)",
    responses=answers((202, models.Campaign, "Accepted"), errors=_TRANSITION_ERRORS),
)
def send_campaign(campaign_id: CampaignId) -> Response[models.Campaign]:
    return _act("send", campaign_id, 202)


@router.post(
    "/v1/campaigns/<campaign_id>/pause",
    summary="Pause a sending campaign: its pages and queued mail wait, nothing is lost",
    responses=answers((200, models.Campaign, "Paused"), errors=_TRANSITION_ERRORS),
)
def pause_campaign(campaign_id: CampaignId) -> Response[models.Campaign]:
    return _act("pause", campaign_id, 200)


@router.post(
    "/v1/campaigns/<campaign_id>/resume",
    summary="Resume a paused campaign: what the pause parked goes out",
    responses=answers((202, models.Campaign, "Resumed"), errors=_TRANSITION_ERRORS),
)
def resume_campaign(campaign_id: CampaignId) -> Response[models.Campaign]:
    return _act("resume", campaign_id, 202)


@router.post(
    "/v1/campaigns/<campaign_id>/cancel",
    summary="Cancel a campaign: nothing more is sent; pending schedules are deleted",
    responses=answers((200, models.Campaign, "Cancelled"), errors=_TRANSITION_ERRORS),
)
def cancel_campaign(campaign_id: CampaignId) -> Response[models.Campaign]:
    return _act("cancel", campaign_id, 200)
