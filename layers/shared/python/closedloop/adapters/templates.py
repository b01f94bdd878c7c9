"""Jinja2 rendering: one cached sandboxed environment per container, a subject, an HTML and a text template per message.

templates/<name>/subject.txt, body.html, body.txt; bodies extend templates/_layouts/base.{html,txt}.
Globals a template can call: track(url, **actions), unsubscribe_url(), preferences_url(), open_pixel_url(),
honeypot_url() (the hidden link only machines follow; the base layout carries it), offers(pool, n) (the n best
offers of offers/<pool>.toml for this person, each with its url already tracked with its topic as the interest
action; closedloop.offers ranks them, and the ids rendered go back to the gate in RenderedLinks.offers).
A transactional request (a confirmation the person asked for) gets no List-Unsubscribe headers: its template uses
the transactional layout, which carries no unsubscribe or preference link.

track() cannot know the final URL while rendering: the token names the link set, which is the hash of all links
of the message. So it returns a placeholder; after both bodies are rendered the links are numbered, hashed into a
link set, and the placeholders replaced by signed URLs. The placeholder holds NUL (which the doors refuse in any
data) and a random marker drawn for each render, so no text from a request can ever mint a tracking link.

The finished HTML is CSS-inlined (css-inline, after the links are resolved: the parser drops NUL, so placeholders
would not survive it): every <style> rule is copied into the style attributes it applies to, for the clients that
ignore <style>, and @media rules stay in a <style> for those that honour them. Nothing remote is ever loaded.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import css_inline
from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound, TemplateSyntaxError, nodes, select_autoescape
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from closedloop import errors
from closedloop.clock import SystemClock
from closedloop.links import link_set_id, validate_actions, validate_target
from closedloop.mail import OutgoingMail
from closedloop.offers import OfferPools, load_pools
from closedloop.profiles import Profile
from closedloop.sending import RenderedLinks, SendRequest
from closedloop.tokens import ClickToken, MessageToken, TokenSigner
from closedloop.values import CampaignRef, Link

PARTS = ("subject.txt", "body.html", "body.txt")
# NUL, the render's marker, NUL: compiled once; a placeholder whose marker is not this render's stays text.
_PLACEHOLDER = re.compile("\x00([0-9a-f]{12}):(\\d+)\x00")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def template_exists(templates_dir: Path, name: str) -> bool:
    """A template is a folder with all three parts; the name can never leave the templates folder."""
    return bool(_NAME.match(name)) and all((templates_dir / name / part).is_file() for part in PARTS)


@lru_cache(maxsize=2)
def environment(templates_dir: Path) -> ImmutableSandboxedEnvironment:
    """One environment per container: Jinja2 caches compiled templates in it."""
    return ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        auto_reload=False,
        keep_trailing_newline=False,
    )


def compile_all(templates_dir: Path) -> None:
    """Parse every template file (layouts included); ConfigError names the first file and line that does not."""
    env = environment(templates_dir)
    for path in sorted(templates_dir.rglob("*")):
        if path.is_file() and path.suffix in (".html", ".txt"):
            name = path.relative_to(templates_dir).as_posix()
            try:
                env.get_template(name)
            except TemplateSyntaxError as error:
                raise errors.ConfigError(f"templates/{name}, line {error.lineno}: {error.message}") from error


@lru_cache(maxsize=1)
def css_inliner() -> css_inline.CSSInliner:
    """One inliner per container; @media rules stay in <style>, remote stylesheets are never fetched."""
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def inline_css(html: str) -> str:
    try:
        return css_inliner().inline(html)
    except (css_inline.InlineError, ValueError) as error:
        raise errors.TemplateError(f"body.html: CSS inlining failed: {error}") from error


def pools_named(templates_dir: Path) -> list[tuple[str, int, str]]:
    """(file, line, pool) of every offers("<pool>", …) call with a literal pool name in the templates (Jinja2 AST)."""
    env = environment(templates_dir)
    found = []
    for path in sorted(templates_dir.rglob("*")):
        if path.is_file() and path.suffix in (".html", ".txt"):
            name = path.relative_to(templates_dir).as_posix()
            tree = env.parse(path.read_text(encoding="utf-8"), name, name)
            for call in tree.find_all(nodes.Call):
                if isinstance(call.node, nodes.Name) and call.node.name == "offers" and call.args:
                    pool = call.args[0]
                    if isinstance(pool, nodes.Const) and isinstance(pool.value, str):
                        found.append((f"templates/{name}", call.lineno, pool.value))
    return found


@lru_cache(maxsize=4096)
def _checked_link(url: object, actions: tuple) -> Link:
    """A link checked once per container: a campaign's links are the same for every recipient."""
    return Link(url=validate_target(url), actions=validate_actions(dict(actions)))


def _link(url: object, actions: dict) -> tuple[tuple, Link]:
    """(the link's identity, the checked link): the same target with the same actions is one link."""
    items = tuple(sorted(actions.items()))
    try:
        return (url, items), _checked_link(url, items)
    except TypeError:  # an unhashable argument (interest=["travel", "cars"]): checked every time
        link = Link(url=validate_target(url), actions=validate_actions(dict(items)))
        return (url, repr(items)), link


_LINK_SETS: dict[tuple, str] = {}  # the identities of a message's links -> its link set id, per container


def _cached_link_set_id(identities: tuple, links: list[Link], campaign: CampaignRef | None) -> str:
    """Hashed once per container for each distinct list of links and campaign (every recipient of a campaign
    variant shares it)."""
    key = (identities, campaign)
    found = _LINK_SETS.get(key)
    if found is None:
        if len(_LINK_SETS) >= 1024:
            _LINK_SETS.clear()
        found = _LINK_SETS[key] = link_set_id(links, campaign)
    return found


class _LinkCollector:
    """Numbers the links of one message; the same target with the same actions is one link."""

    def __init__(self) -> None:
        self.links: list[Link] = []
        self.numbers: dict[tuple, int] = {}  # (url, actions) -> the link's number
        self.offers: list[str] = []  # the offer ids rendered, once each, in order
        self.marker = secrets.token_hex(6)

    def track(self, url: str, **actions: object) -> Markup:
        key, link = _link(url, actions)
        number = self.numbers.get(key)
        if number is None:
            number = self.numbers[key] = len(self.links)
            self.links.append(link)
        return Markup(f"\x00{self.marker}:{number}\x00")

    def offers_for(self, pools: Callable[[], OfferPools], profile: Profile, now: datetime) -> Callable:
        """The template's offers(pool, n): the ranked offers as plain values, each url tracked with its topic."""

        chosen_before: dict[tuple, list[dict]] = {}  # the HTML and the text part ask alike: rank once

        def offers(pool: object, count: object = 3) -> list[dict]:
            key = (pool, count) if isinstance(pool, str) and isinstance(count, int) else None
            if key is not None and key in chosen_before:
                return chosen_before[key]
            chosen = pools().choose(pool, count, interests=profile.interests, sent=profile.offers_sent, now=now)
            for offer in chosen:
                if offer.id not in self.offers:
                    self.offers.append(offer.id)
            shown = [
                {
                    "id": offer.id,
                    "topic": offer.topic,
                    "title": offer.title,
                    "text": offer.text,
                    "image": offer.image,
                    "url": self.track(offer.url, interest=offer.topic),
                }
                for offer in chosen
            ]
            if key is not None:
                chosen_before[key] = shown
            return shown

        return offers


class JinjaRenderer:
    def __init__(
        self,
        templates_dir: Path,
        signer: TokenSigner,
        tracking_base_url: str,
        sender: str,
        postal_address: str = "",
        honeypot_target: str = "https://example.com/",
        *,
        offers: OfferPools | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._dir = templates_dir
        self._signer = signer
        self._base = tracking_base_url.rstrip("/")
        self._sender = sender
        self._postal_address = postal_address
        self._honeypot_target = honeypot_target
        # Pools default to the content folder the templates sit in, read on the first offers() call.
        self._offers = offers
        self._clock = clock or SystemClock().now
        self._found: set[str] = set()

    def _pools(self) -> OfferPools:
        if self._offers is None:
            self._offers = load_pools(self._dir.parent)
        return self._offers

    def exists(self, name: str) -> bool:
        # Content does not change under a running container (the environment never reloads either): a template
        # found once is not looked for on disk again.
        if name in self._found:
            return True
        found = template_exists(self._dir, name)
        if found:
            self._found.add(name)
        return found

    def render(
        self, request: SendRequest, profile: Profile, now: datetime | None = None
    ) -> tuple[OutgoingMail, RenderedLinks]:
        """Render one message; `now` (the send instant) decides which offers are valid, else the renderer's clock."""
        if not self.exists(request.template):
            raise errors.TemplateNotFound(f"no template named {request.template!r}")
        token = MessageToken(request.message_id, profile.profile_id, request.campaign)
        collector = _LinkCollector()

        signatures: dict[str, str] = {}

        def signed(path: str, purpose: str) -> str:
            """One signature per purpose and message, however often the parts ask."""
            if purpose not in signatures:
                signatures[purpose] = f"{self._base}/{path}/{self._signer.message(purpose, token)}"
            return signatures[purpose]

        variables = {
            **request.context,
            "profile": {
                **profile.attributes,
                "id": profile.profile_id,
                "email": profile.email,
                "interests": dict(profile.interests),
            },
            "message": {"id": request.message_id, "template": request.template},
            "sender": {"postal_address": self._postal_address},
            "track": collector.track,
            "unsubscribe_url": lambda: signed("u", "unsubscribe"),
            "preferences_url": lambda: signed("p", "preferences"),
            "open_pixel_url": lambda: signed("o", "open"),
            "honeypot_url": lambda: collector.track(self._honeypot_target, honeypot=True),
            "offers": collector.offers_for(self._pools, profile, now or self._clock()),
        }
        subject, html, text = (self._render_part(f"{request.template}/{part}", variables) for part in PARTS)
        if request.subject is not None:  # an A/B variant's subject line, in the same sandbox
            subject = self._render_text(request.subject, variables)
        links = RenderedLinks(
            link_set=_cached_link_set_id(tuple(collector.numbers), collector.links, request.campaign),
            links=collector.links,
            offers=tuple(collector.offers),
            campaign=request.campaign,
        )
        urls: dict[int, str] = {}  # link number -> signed URL, shared by both parts
        html, text = (
            self._resolve_links(body, collector.marker, request.message_id, profile.profile_id, links, urls)
            for body in (html, text)
        )
        html = inline_css(html)
        unsubscribe = variables["unsubscribe_url"]()
        one_click = {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        mail = OutgoingMail(
            message_id=request.message_id,
            profile_id=profile.profile_id,
            sender=self._sender,
            to=profile.email,
            subject=subject.strip(),
            html=html,
            text=text,
            headers={
                **({} if request.transactional else one_click),
                "X-Closedloop-Message-Id": request.message_id,
            },
            tags={"template": request.template, **(request.campaign.tags() if request.campaign else {})},
        )
        return mail, links

    def _render_part(self, name: str, variables: dict) -> str:
        try:
            return environment(self._dir).get_template(name).render(variables)
        except TemplateNotFound as error:
            raise errors.TemplateNotFound(f"template file {error.name} is missing") from error
        except (TemplateSyntaxError, UndefinedError, SecurityError, TypeError) as error:
            raise errors.TemplateError(f"{name}: {error}") from error

    def _render_text(self, source: str, variables: dict) -> str:
        try:
            return environment(self._dir).from_string(source).render(variables)
        except (TemplateSyntaxError, UndefinedError, SecurityError, TypeError) as error:
            raise errors.TemplateError(f"subject: {error}") from error

    def _resolve_links(
        self, body: str, marker: str, message_id: str, profile_id: str, links: RenderedLinks, urls: dict[int, str]
    ) -> str:
        def url(match: re.Match) -> str:
            if match.group(1) != marker:
                return match.group(0)
            number = int(match.group(2))
            if number not in urls:
                token = ClickToken(message_id, profile_id, links.link_set, number)
                urls[number] = f"{self._base}/r/{self._signer.click(token)}"
            return urls[number]

        return _PLACEHOLDER.sub(url, body)
