"""The content marketers ship (config/ and templates/): checked for what must always hold, not for its wording.

Every template renders with the sample data kept beside it (templates/<name>/sample.json) and must: have a
one-line subject, a text part, the unsubscribe link in both parts and the RFC 8058 headers verbatim in the raw
message, refuse a header-splitting name, fail on undefined variables, and score below 1.0 with SpamAssassin's
local rules. Change the wording freely; these tests only fail when a mail would break.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from closedloop.adapters.templates import JinjaRenderer
from closedloop.config import load_config
from closedloop.content import check_content
from closedloop.errors import HeaderInjection, TemplateError
from closedloop.profiles import Profile
from closedloop.sending import SendRequest
from closedloop.tokens import TokenSigner, TrackingKeys

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "templates"
SHIPPED = sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir() and not p.name.startswith("_"))
BASE = "https://links.example.com"
NOW = datetime(2026, 6, 15, 9, tzinfo=UTC)
SPAM_LIMIT = 1.0
# What SES adds on the way out; a message without it scores for its absence, which is not ours to fix.
SES_ADDS = b"Message-ID: <0100019a2b3c4d5e-shipped-content-check@email.amazonses.com>\r\n"


def sample(template: str) -> dict:
    return json.loads((TEMPLATES / template / "sample.json").read_text())


def render(template: str, **attributes):
    data = sample(template)
    profile = Profile(
        "p-sample", "ada@example.org", "subscribed", {**data["profile"], **attributes}, data.get("interests", {})
    )
    keys = TrackingKeys(current="k1", keys={"k1": b"content-check-key"})
    postal = load_config(REPO).mail.postal_address
    renderer = JinjaRenderer(TEMPLATES, TokenSigner(keys), BASE, '"closedloop" <news@example.com>', postal)
    request = SendRequest(
        f"check#{template}",
        profile.profile_id,
        template,
        "m-sample",
        data.get("context", {}),
        transactional=data.get("transactional", False),
    )
    return renderer.render(request, profile)


# Mails the person asked for (the double opt-in confirmation): sent to addresses that are not subscribed, so they
# carry no unsubscribe or preference link. Their sample.json says "transactional": true.
TRANSACTIONAL = [t for t in SHIPPED if sample(t).get("transactional")]
MARKETING = [t for t in SHIPPED if t not in TRANSACTIONAL]


def test_the_shipped_configuration_and_templates_pass_the_content_check():
    check_content(REPO)


@pytest.mark.parametrize("template", SHIPPED)
def test_every_shipped_template_has_sample_data_beside_it(template):
    assert {"profile", "context"} <= set(sample(template))


def test_the_configured_confirmation_template_is_shipped_as_transactional():
    assert load_config(REPO).double_opt_in.confirm_template in TRANSACTIONAL


@pytest.mark.parametrize("template", MARKETING)
def test_every_marketing_mail_links_to_the_preference_page_in_both_parts(template):
    mail, _ = render(template)
    (link,) = set(re.findall(rf"{re.escape(BASE)}/p/[A-Za-z0-9._:-]+", mail.html))
    assert link in mail.text


@pytest.mark.parametrize("template", TRANSACTIONAL)
def test_a_transactional_mail_has_no_unsubscribe_or_preference_link_and_no_open_pixel(template):
    mail, _ = render(template)
    assert "List-Unsubscribe" not in mail.headers
    for path in ("/u/", "/p/", "/o/"):
        assert f"{BASE}{path}" not in mail.html + mail.text
    assert mail.text.strip()


@pytest.mark.parametrize("template", MARKETING)
def test_every_shipped_mail_carries_the_unsubscribe_link_in_both_parts_and_the_one_click_headers(template):
    mail, _ = render(template)
    unsubscribe = mail.headers["List-Unsubscribe"]
    assert re.fullmatch(rf"<{re.escape(BASE)}/u/[A-Za-z0-9._:-]+>", unsubscribe)
    assert unsubscribe[1:-1] in mail.html and unsubscribe[1:-1] in mail.text
    assert mail.subject and "\n" not in mail.subject and mail.text.strip()
    raw = mail.mime(NOW)
    assert f"List-Unsubscribe: {unsubscribe}\r\n".encode() in raw
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw


@pytest.mark.parametrize("template", SHIPPED)
def test_a_name_that_would_split_a_header_never_reaches_one(template):
    try:
        mail, _ = render(template, first_name="Eve\r\nBcc: everyone@example.org")
    except HeaderInjection:
        return
    assert "\n" not in mail.subject and "\r" not in mail.subject


@pytest.mark.parametrize("template", [t for t in SHIPPED if sample(t)["context"]])
def test_a_template_that_needs_context_fails_without_it_instead_of_rendering_blanks(template):
    data = sample(template)
    with pytest.raises(TemplateError, match="undefined"):
        JinjaRenderer(TEMPLATES, TokenSigner(TrackingKeys("k1", {"k1": b"k"})), BASE, "news@example.com").render(
            SendRequest("k", "p", template, "m", {}), Profile("p", "a@example.org", "subscribed", data["profile"])
        )


@pytest.fixture(scope="module")
def spamassassin() -> str:
    path = shutil.which("spamassassin")
    assert path, "spamassassin is not installed: `make test` installs it (apt-get install spamassassin)"
    return path


@pytest.mark.parametrize("template", SHIPPED)
def test_every_shipped_mail_scores_below_the_spam_limit(spamassassin, template):
    mail, _ = render(template)
    report = subprocess.run(
        [spamassassin, "-L", "-t"], input=SES_ADDS + mail.mime(NOW), capture_output=True, timeout=120, check=True
    ).stdout.decode("utf-8", "replace")
    score = float(re.search(r"X-Spam-Status: \w+, score=(-?[\d.]+)", report).group(1))
    rules = re.findall(r"^\s*(-?[\d.]+)\s+([A-Z0-9_]+)\s", report.split("Content analysis details:")[-1], re.M)
    assert score < SPAM_LIMIT, f"{template} scores {score}: {rules}"
