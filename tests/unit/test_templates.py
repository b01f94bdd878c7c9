import re
from pathlib import Path

import pytest

from closedloop.adapters.templates import JinjaRenderer, environment
from closedloop.errors import HeaderInjection, TemplateError, TemplateNotFound
from closedloop.links import increments_of, is_honeypot
from closedloop.profiles import Profile
from closedloop.sending import SendRequest
from tests.unit.conftest import CONTENT

# The tests' own templates; the shipped ones are checked for invariants only, in tests/content.
TEMPLATES = ["newsletter-demo", "travel-offers", "car-offers", "birthday", "we-miss-you"]
ADA = Profile(
    "p-ada",
    "ada@example.com",
    "subscribed",
    {"first_name": "Ada", "birthday": "1990-06-15", "timezone": "Europe/Berlin"},
    {"travel": 2},
)
BASE = "https://links.example.test"


@pytest.fixture
def renderer(signer):
    return JinjaRenderer(CONTENT / "templates", signer, BASE, "Closedloop <news@example.com>")


def render(renderer, template, profile=ADA, context=None):
    return renderer.render(
        SendRequest("k", profile.profile_id, template, "m1", context or {"inactive_days": 60}), profile
    )


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_renders_a_subject_html_and_text_with_tracked_links(renderer, template):
    mail, links = render(renderer, template)
    assert mail.subject and "Ada" in mail.subject and "\n" not in mail.subject
    assert "<html" in mail.html and "Hello Ada" in mail.text
    assert links.links and f"{BASE}/r/" in mail.html and f"{BASE}/r/" in mail.text
    assert "\x00" not in mail.html + mail.text
    assert mail.headers["List-Unsubscribe"].startswith(f"<{BASE}/u/")
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_newsletter_links_carry_the_travel_and_cars_actions(renderer):
    _, links = render(renderer, "newsletter-demo")
    assert [increments_of(link.actions) for link in links.links] == [{"travel": 1}, {"cars": 1}, {}]
    assert [is_honeypot(link.actions) for link in links.links] == [False, False, True]


def test_every_mail_carries_a_honeypot_link_that_no_person_sees_reaches_or_hears(renderer):
    mail, links = render(renderer, "newsletter-demo")
    (honeypot,) = [n for n, link in enumerate(links.links) if is_honeypot(link.actions)]
    anchors = re.findall(r"<a [^>]*>", mail.html)
    (hidden,) = [a for a in anchors if 'aria-hidden="true"' in a]
    assert 'tabindex="-1"' in hidden and "display:none" in hidden
    assert links.links[honeypot].url == "https://example.com/"
    # Only the HTML part carries it: a person reading the text part could follow a visible link.
    assert len(re.findall(rf"{BASE}/r/\S+", mail.text)) == len(links.links) - 1


def test_the_same_link_in_html_and_text_is_one_link(renderer, signer):
    mail, links = render(renderer, "newsletter-demo")
    html_urls = re.findall(rf"{BASE}/r/[^\"\s]+", mail.html)
    text_urls = re.findall(rf"{BASE}/r/\S+", mail.text)
    assert set(text_urls) < set(html_urls) and len(set(html_urls)) == len(links.links) == 3  # + the honeypot


def test_two_recipients_of_one_newsletter_share_one_link_set(renderer):
    other = Profile("p-bob", "bob@example.com", "subscribed", {"first_name": "Bob"}, {})
    assert render(renderer, "newsletter-demo")[1].link_set == render(renderer, "newsletter-demo", other)[1].link_set


def test_profile_values_are_escaped_in_html(renderer):
    mallory = Profile("p-m", "m@example.com", "subscribed", {"first_name": "<script>x</script>"}, {})
    mail, _ = render(renderer, "birthday", mallory)
    assert "<script>x" not in mail.html and "&lt;script&gt;" in mail.html


def test_a_line_break_reaching_a_header_is_refused_before_sending(renderer):
    mallory = Profile("p-m", "m@example.com", "subscribed", {"first_name": "Eve\r\nBcc: all@example.com"}, {})
    with pytest.raises(HeaderInjection):
        render(renderer, "birthday", mallory)


def test_an_unknown_template_is_reported(renderer):
    with pytest.raises(TemplateNotFound):
        render(renderer, "no-such-template")


@pytest.fixture
def scratch(tmp_path: Path, signer):
    def make(body_html: str) -> JinjaRenderer:
        folder = tmp_path / "t"
        folder.mkdir(exist_ok=True)
        (folder / "subject.txt").write_text("Hi")
        (folder / "body.txt").write_text("text")
        (folder / "body.html").write_text(body_html)
        environment.cache_clear()
        return JinjaRenderer(tmp_path, signer, BASE, "news@example.com")

    yield make
    environment.cache_clear()


@pytest.mark.parametrize(
    "body, problem",
    [
        ("{{ profile.__class__.__mro__ }}", "is unsafe"),
        ("{{ nobody_defined_this }}", "undefined"),
        ("{{ track('javascript:alert(1)') }}", "absolute http"),
        ("{{ track('https://a.example', points='x') }}", "unknown link action"),
        ("{{ track('https://a.example', interest='Not Valid') }}", "counter"),
    ],
)
def test_templates_are_sandboxed_and_strict(scratch, body, problem):
    with pytest.raises(TemplateError, match=problem):
        render(scratch(body), "t")


def test_text_from_a_profile_can_never_mint_a_tracking_link(renderer):
    # The marker is drawn anew for every render, so even text shaped like an old placeholder stays text.
    forged = Profile("p-m", "m@example.com", "subscribed", {"first_name": "Eve", "city": "\x00link0\x00"}, {})
    mail, _ = render(renderer, "birthday", forged, {"note": "\x00link1\x00"})
    assert mail.html.count(f"{BASE}/r/") == 2  # the template's own link and the honeypot only


def test_a_campaign_mail_names_its_campaign_stage_and_variant_in_its_ses_tags(renderer):
    from closedloop.values import CampaignRef

    request = SendRequest("k", ADA.profile_id, "newsletter-demo", "m1", campaign=CampaignRef("c-1", "main", "a"))
    mail, _ = renderer.render(request, ADA)
    single, _ = render(renderer, "newsletter-demo")

    assert mail.tags == {"template": "newsletter-demo", "campaign": "c-1", "stage": "main", "variant": "a"}
    assert single.tags == {"template": "newsletter-demo"}
