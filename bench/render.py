"""Render throughput: personalised mails per CPU-second through the renderer the send gate uses, against a bare
Jinja2 render of the same template and data, measured in the same run (`time.process_time`).

The renderer's side is `JinjaRenderer.render` on the shipped `offers-digest`: subject, HTML and text in the sandbox,
offers ranked for the person from offers/deals.toml, every link tracked (placeholders, link-set hash, signed tokens),
the unsubscribe, preference and open-pixel URLs signed, and the HTML CSS-inlined. The floor renders the same three
files with a plain `jinja2.Environment` and the same values: links left as they are, offers handed over already
chosen, no inlining. Profiles differ per mail (names, interests), as in a campaign.

`python -m bench.render` prints this section alone; `make bench` includes it.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from closedloop.adapters.templates import PARTS, JinjaRenderer
from closedloop.config import load_config
from closedloop.offers import load_pools
from closedloop.profiles import Profile
from closedloop.sending import SendRequest
from closedloop.tokens import TokenSigner, TrackingKeys

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = "offers-digest"
NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)
BASE = "https://links.example.com"
ROUNDS = 9
MAILS_PER_ROUND = 200
NAMES = ("Ada", "Carl", "Lea", "Quinn", "Nia", "Omar", "Mia", "Jon")
INTERESTS = ({"cars": 5, "travel": 2}, {"travel": 4}, {"cars": 1, "tips": 3}, {"travel": 1, "cars": 1}, {})


def profiles(count: int) -> list[Profile]:
    people = []
    for n in range(count):
        name, interests = NAMES[n % len(NAMES)], INTERESTS[n % len(INTERESTS)]
        person = Profile(f"p-{n}", f"p-{n}@example.net", "subscribed", {"first_name": name}, dict(interests))
        person.offers_sent = {"reef-and-rainforest": 3} if n % 7 == 0 else {}
        people.append(person)
    return people


def _bare_environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(ROOT / "templates")),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        auto_reload=False,
    )


def measure(rounds: int = ROUNDS, per_round: int = MAILS_PER_ROUND) -> dict:
    keys = TrackingKeys(current="k1", keys={"k1": b"bench-render-key"})
    postal = load_config(ROOT).mail.postal_address
    renderer = JinjaRenderer(ROOT / "templates", TokenSigner(keys), BASE, "news@example.com", postal)
    pools = load_pools(ROOT)
    bare = _bare_environment()
    bare_parts = [bare.get_template(f"{TEMPLATE}/{part}") for part in PARTS]
    people = profiles(per_round)

    def bare_values(person: Profile) -> dict:
        chosen = pools.choose("deals", 3, interests=person.interests, sent=person.offers_sent, now=NOW)
        offers = [{**o._asdict(), "url": o.url} for o in chosen]
        return {
            "profile": {**person.attributes, "id": person.profile_id, "interests": person.interests},
            "message": {"id": "m", "template": TEMPLATE},
            "sender": {"postal_address": postal},
            "track": lambda url, **actions: url,
            "unsubscribe_url": lambda: f"{BASE}/u/token",
            "preferences_url": lambda: f"{BASE}/p/token",
            "open_pixel_url": lambda: f"{BASE}/o/token",
            "honeypot_url": lambda: "https://example.com/",
            "offers": lambda pool, count=3: offers,
        }

    renderer.render(SendRequest("warm", "p-0", TEMPLATE, "m-warm", {}), people[0], NOW)  # compile, load pools
    values = [bare_values(person) for person in people]  # the floor gets its offers for free
    full_s, bare_s = [], []
    ids = itertools.count()
    for _ in range(rounds):  # interleaved, so a busy moment slows both sides alike; the best round of each counts
        start = time.process_time()
        for person in people:
            message_id = f"m-{next(ids)}"
            renderer.render(SendRequest(f"bench#{message_id}", person.profile_id, TEMPLATE, message_id), person, NOW)
        full_s.append(time.process_time() - start)
        start = time.process_time()
        for data in values:
            for part in bare_parts:
                part.render(data)
        bare_s.append(time.process_time() - start)
    mails = rounds * per_round
    full_rate, bare_rate = per_round / min(full_s), per_round / min(bare_s)
    return {
        "template": TEMPLATE,
        "mails": mails,
        "mails_per_cpu_s": round(full_rate),
        "bare_jinja2_mails_per_cpu_s": round(bare_rate),
        "ratio": round(full_rate / bare_rate, 2),
    }


def main() -> None:
    figures = measure()
    print(
        f"render, {figures['template']}: {figures['mails_per_cpu_s']} mails/CPU-s (renderer the gate uses: offers, "
        f"tracked links, CSS inlining) / {figures['bare_jinja2_mails_per_cpu_s']} bare Jinja2 = {figures['ratio']}"
        " (target >= 0.5)"
    )


if __name__ == "__main__":
    main()
