"""A small stdlib HTTP client for a running local runtime: what the demo and the e2e tests drive it with.

Everything goes over HTTP (urllib), as a person with curl would: the admin API with its bearer key, the public
tracking links as found in the outbox, and the /_local control routes. Redirects are never followed, so a click's
302 and its Location can be inspected.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

# Clicks come from a browser; a script's user agent could be scored as a link scanner.
BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)


@dataclass
class Response:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.body[:300].decode('utf-8', 'replace')}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


class LocalClient:
    def __init__(self, base_url: str, api_key: str | None = None, timeout_s: float = 60) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout_s = timeout_s

    def request(
        self, method: str, path: str, body: Any = None, *, auth: bool = True, headers: dict[str, str] | None = None
    ) -> Response:
        """One request to a path (or a full URL); any status is returned, never raised."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        if body is not None and not isinstance(body, bytes):
            request.add_header("Content-Type", "application/json")
        if auth and self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            with _OPENER.open(request, timeout=self.timeout_s) as response:
                return Response(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, error.headers, error.read())

    def ok(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """A request that must succeed (2xx); its JSON answer."""
        response = self.request(method, path, body, **kwargs)
        if not 200 <= response.status < 300:
            raise AssertionError(f"{method} {path} answered {response}")
        return response.json()

    # --- admin API ----------------------------------------------------------------------------------------------

    def put_profile(self, profile_id: str, email: str, *, status: str = "subscribed", **attributes: Any) -> Any:
        body = {"email": email, "status": status, "attributes": attributes}
        return self.ok("PUT", f"/v1/profiles/{profile_id}", body)

    def profile(self, profile_id: str) -> dict:
        return self.ok("GET", f"/v1/profiles/{profile_id}")

    def send(self, profile_id: str, template: str, idempotency_key: str) -> Any:
        body = {"profile_id": profile_id, "template": template, "idempotency_key": idempotency_key}
        return self.ok("POST", "/v1/messages", body)

    # --- recipients ---------------------------------------------------------------------------------------------

    def click(self, url: str, user_agent: str = BROWSER_UA) -> Response:
        return self.request("GET", url, auth=False, headers={"User-Agent": user_agent, "Accept": "text/html"})

    # --- /_local ------------------------------------------------------------------------------------------------

    def set_clock(self, instant: str) -> str:
        return self.ok("POST", "/_local/clock", {"now": instant}, auth=False)["now"]

    def now(self) -> str:
        return self.ok("GET", "/_local/clock", auth=False)["now"]

    def advance(self, seconds: float) -> str:
        return self.ok("POST", "/_local/clock", {"advance_seconds": seconds}, auth=False)["now"]

    def advance_to_local_hour(self, hour: int, zone: str) -> str:
        """Moves the clock forward to the next `hour`:00 wall time in `zone` (e.g. a morning, out of quiet hours)."""
        now = datetime.fromisoformat(self.now().replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
        at = now.replace(hour=hour, minute=0, second=0, microsecond=0)
        at = at if at > now else at + timedelta(days=1)  # aware arithmetic in a ZoneInfo zone keeps the wall time
        return self.set_clock(at.astimezone(UTC).isoformat().replace("+00:00", "Z"))

    def settle(self) -> dict:
        """Let the clicks made so far count: drain (they are stored), move the clock past the settle window, drain
        again (they are decided, and a person's reach the profile and whatever follows). The last drain's answer."""
        self.drain()
        self.advance(self.ok("GET", "/_local/clock", auth=False)["click_settle_seconds"] + 1)
        return self.drain()

    def drain(self) -> dict:
        return self.ok("POST", "/_local/drain", auth=False)

    def run_schedule(self, name: str) -> Any:
        return self.ok("POST", f"/_local/schedules/{name}/run", auth=False)

    def outbox_size(self) -> int:
        """How many messages SES has accepted so far (cheaper than fetching the outbox)."""
        return self.ok("GET", "/_local", auth=False)["outbox_messages"]

    def dead_letters(self) -> list[dict]:
        return self.ok("GET", "/_local/dead-letters", auth=False)["dead_letters"]

    def outbox(self, to: str | None = None, template: str | None = None) -> list[dict]:
        """Messages SES accepted, oldest first, optionally only those to one address or from one template."""
        filters = {k: v for k, v in (("to", to), ("template", template)) if v}
        query = f"?{urllib.parse.urlencode(filters)}" if filters else ""
        return self.ok("GET", f"/_local/outbox{query}", auth=False)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((" ".join("".join(self._text).split()), self._href))
            self._href = None


def links(html: str) -> list[tuple[str, str]]:
    """(anchor text, href) of every link in an HTML body, in document order."""
    parser = _Links()
    parser.feed(html or "")
    return parser.links


def link_containing(html: str, word: str, *, base_url: str) -> str:
    """The tracked link (<base_url>/r/...) whose anchor text contains `word` (case-insensitive)."""
    for text, href in links(html):
        if word.lower() in text.lower() and href.startswith(f"{base_url}/r/"):
            return href
    found = [text for text, _ in links(html)]
    raise LookupError(f"no tracked link with {word!r} in its text; links: {found}")


def tamper(url: str) -> str:
    """The same link with one character of its token changed."""
    head, _, token = url.rpartition("/")
    middle = len(token) // 2
    flipped = "A" if token[middle] != "A" else "B"
    return f"{head}/{token[:middle]}{flipped}{token[middle + 1 :]}"
