"""Segments: PUT/GET /v1/segments/{segment_id}, and previews of a saved segment or of rules sent inline."""

from __future__ import annotations

import time
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from closedloop import audience, saved_segments, segments, services
from closedloop.api import models
from closedloop.api.body import json_response
from closedloop.api.openapi import answers

router = APIGatewayHttpRouter()

SegmentId = Annotated[
    str,
    Path(
        description="Lower-case letters, digits, _ and -",
        json_schema_extra={"pattern": saved_segments.SEGMENT_ID.pattern},
    ),
]
NOT_FOUND = {404: "segment_not_found: no segment has this id"}
TOO_SLOW = "preview_too_slow: too many profiles to read within one API call"
# API Gateway gives an integration 30 s; the rest of the call needs a little of it.
PREVIEW_BUDGET_S = 25.0
PREVIEW_PARALLEL = 8


@router.put(
    "/v1/segments/<segment_id>",
    summary="Save a segment: a name and rules (replaces the segment with this id)",
    responses=answers((200, models.Segment, "Replaced"), (201, models.Segment, "Created"), body=True),
)
def put_segment(segment_id: SegmentId, body: Annotated[models.SegmentWrite, Body()]) -> Response[models.Segment]:
    stored, created = saved_segments.save(services.segment_store(), segment_id, body.plain(), services.clock().now())
    return json_response(201 if created else 200, stored)


@router.get(
    "/v1/segments/<segment_id>",
    summary="A saved segment",
    responses=answers((200, models.Segment, "The segment"), errors=NOT_FOUND),
)
def get_segment(segment_id: SegmentId) -> Response[models.Segment]:
    return json_response(200, saved_segments.get(services.segment_store(), segment_id))


@router.post(
    "/v1/segments/<segment_id>/preview",
    summary="How many profiles a campaign to this segment would target now, and a sample of their ids",
    responses=answers((200, models.SegmentPreview, "The count"), errors={**NOT_FOUND, 503: TOO_SLOW}),
)
def preview_saved(segment_id: SegmentId) -> Response[models.SegmentPreview]:
    return _preview(saved_segments.load(services.segment_store(), segment_id))


@router.post(
    "/v1/segments/preview",
    summary="How many profiles these rules would target now, and a sample of their ids",
    responses=answers((200, models.SegmentPreview, "The count"), body=True, errors={503: TOO_SLOW}),
)
def preview_rules(body: Annotated[models.SegmentRules, Body()]) -> Response[models.SegmentPreview]:
    return _preview(segments.parse(body.plain()["rules"]))


def _preview(segment: segments.Segment) -> Response[models.SegmentPreview]:
    ends = time.monotonic() + PREVIEW_BUDGET_S
    counted = audience.preview(
        segment,
        services.profile_scan(),
        services.suppressions(),
        services.clock().now(),
        parallel=PREVIEW_PARALLEL,
        deadline=lambda: time.monotonic() > ends,
    )
    return json_response(200, counted.to_api())
