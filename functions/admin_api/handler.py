"""The authenticated admin API: profiles, events, messages (routes in closedloop.api)."""

from closedloop.api.app import build
from closedloop.observability import observed

app = build()


@observed
def handler(event: dict, context) -> dict:
    return app.resolve(event, context)
