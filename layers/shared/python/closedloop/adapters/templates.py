"""Jinja2 rendering: one cached sandboxed environment per container, a subject, an HTML and a text template per message.

templates/<name>/subject.txt, body.html, body.txt; bodies extend templates/_layouts/base.{html,txt}.
Globals a template can call: track(url, **actions), unsubscribe_url(), preferences_url(), open_pixel_url(),
honeypot_url() (the hidden link only machines follow; the base layout carries it). A transactional request (a
confirmation the person asked for) gets no List-Unsubscribe headers: its template uses the transactional layout,
which carries no unsubscribe or preference link.

track() cannot know the final URL while rendering: the token names the link set, which is the hash of all links
of the message. So it returns a placeholder; after both bodies are rendered the links are numbered, hashed into a
link set, and the placeholders replaced by signed URLs. The placeholder holds NUL (which the doors refuse in any
data) and a random marker drawn for each render, so no text from a request can ever mint a tracking link.
"""

from __future__ import annotations

import re
import secrets
from functools import lru_cache
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound, TemplateSyntaxError, select_autoescape
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from closedloop import errors
from closedloop.links import link_set_id, validate_actions, validate_target
from closedloop.mail import OutgoingMail
from closedloop.profiles import Profile
from closedloop.sending import RenderedLinks, SendRequest
from closedloop.tokens import ClickToken, MessageToken, TokenSigner
from closedloop.values import Link

PARTS = ("subject.txt", "body.html", "body.txt")
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


class _LinkCollector:
    """Numbers the links of one message; the same target with the same actions is one link."""

    def __init__(self) -> None:
        self.links: list[Link] = []
        self.marker = secrets.token_hex(6)
        self.placeholder = re.compile(f"\x00{self.marker}:(\\d+)\x00")

    def track(self, url: str, **actions: object) -> Markup:
        link = Link(url=validate_target(url), actions=validate_actions(dict(actions)))
        if link not in self.links:
            self.links.append(link)
        return Markup(f"\x00{self.marker}:{self.links.index(link)}\x00")


class JinjaRenderer:
    def __init__(
        self,
        templates_dir: Path,
        signer: TokenSigner,
        tracking_base_url: str,
        sender: str,
        postal_address: str = "",
        honeypot_target: str = "https://example.com/",
    ) -> None:
        self._dir = templates_dir
        self._signer = signer
        self._base = tracking_base_url.rstrip("/")
        self._sender = sender
        self._postal_address = postal_address
        self._honeypot_target = honeypot_target

    def exists(self, name: str) -> bool:
        return template_exists(self._dir, name)

    def render(self, request: SendRequest, profile: Profile) -> tuple[OutgoingMail, RenderedLinks]:
        if not self.exists(request.template):
            raise errors.TemplateNotFound(f"no template named {request.template!r}")
        token = MessageToken(request.message_id, profile.profile_id)
        collector = _LinkCollector()
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
            "unsubscribe_url": lambda: f"{self._base}/u/{self._signer.message('unsubscribe', token)}",
            "preferences_url": lambda: f"{self._base}/p/{self._signer.message('preferences', token)}",
            "open_pixel_url": lambda: f"{self._base}/o/{self._signer.message('open', token)}",
            "honeypot_url": lambda: collector.track(self._honeypot_target, honeypot=True),
        }
        subject, html, text = (self._render_part(f"{request.template}/{part}", variables) for part in PARTS)
        if request.subject is not None:  # an A/B variant's subject line, in the same sandbox
            subject = self._render_text(request.subject, variables)
        links = RenderedLinks(link_set=link_set_id(collector.links), links=collector.links)
        html, text = (
            self._resolve_links(body, collector.placeholder, request.message_id, profile.profile_id, links)
            for body in (html, text)
        )
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
        self, body: str, placeholder: re.Pattern, message_id: str, profile_id: str, links: RenderedLinks
    ) -> str:
        def url(match: re.Match) -> str:
            token = ClickToken(message_id, profile_id, links.link_set, int(match.group(1)))
            return f"{self._base}/r/{self._signer.click(token)}"

        return placeholder.sub(url, body)
