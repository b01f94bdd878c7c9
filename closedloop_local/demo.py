"""`make demo`: the closed loop told end to end on the local runtime, over HTTP only, and checked as it goes.

A newsletter goes to 300 profiles; Ada clicks the trip to Australia three times, Carl the new car; each crossing of
a threshold sends its follow-up exactly once; a tampered link gets a 404; days later birthdays come (one of them
born on 29 February), and after 61 days of silence everyone who did nothing hears "we miss you". Every
expectation is checked, so the demo doubles as a smoke test: exit 0 when the story held, 1 with the reason if not.

`closedloop demo --keep-running` (`make demo-live`) tells the same story on http://127.0.0.1:8080 and keeps that
runtime up afterwards, so the links in the outbox it wrote can be clicked until Ctrl-C.
"""

from __future__ import annotations

import argparse
import html
import random
import re
import sys
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import foreground, lambdas
from .client import LocalClient, link_containing, tamper
from .progress import Progress
from .runtime import Runtime
from .stats_command import stats_table

START = "2026-02-23T08:00:00Z"  # a Monday morning: the newsletter goes out
CLICK_TIME = "2026-02-23T10:30:00Z"
SCAN_TIME = "2026-02-23T11:00:00Z"
SCANNED = "p-0003"  # whose company's mail gateway opens every link of every mail
SCANNER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131"
BIRTHDAY_TIME = "2026-02-28T15:00:00Z"  # 28 February, past 09:00 in every zone used (29 February's stand-in day)
SILENCE_TIME = "2026-04-25T08:00:00Z"  # 61 days after the start
CAMPAIGN_TIME = "2026-04-27T08:00:00Z"  # a Monday, 10:00 in Berlin: the segmented newsletter goes out
WINNER_TIME = "2026-04-27T12:05:00Z"  # past the A/B test's 4 h wait
REMINDER_TIME = "2026-04-29T08:05:00Z"  # past the reminder stage's 2 days
SUBJECT_A = "Your three picks this week"
SUBJECT_B = "{% if profile.first_name is defined %}{{ profile.first_name }}, {% endif %}three trips and drives for you"
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney")
NAMES = (
    "Mia",
    "Noah",
    "Emma",
    "Liam",
    "Sofia",
    "Ben",
    "Hannah",
    "Elias",
    "Lena",
    "Paul",
    "Yuki",
    "Olivia",
    "Jack",
    "Chloe",
    "Mateo",
    "Ines",
    "Kenji",
    "Zoe",
    "Finn",
    "Amara",
)
TRAVELLER, CAR_LOVER = "p-travel", "p-cars"
NEWCOMER = "nia@example.net"  # signs up through the public form (double opt-in)
LIVE_PORT = 8080  # --keep-running: a port to remember, as `make local` uses
LIVE_COMMAND = "make demo-live"
# Born on the story's birthday date; the last one on 29 February, celebrated on the 28th in 2026.
BIRTHDAY_PEOPLE = {
    "p-0007": "1979-02-28",
    "p-0042": "1990-02-28",
    "p-0113": "2001-02-28",
    "p-0200": "1966-02-28",
    "p-0271": "1985-02-28",
    "p-0150": "1996-02-29",
}


# The import chapter: two people (one of them twice: merged in file order) and four bad rows (an address, a date, a
# zone, a line break), each reported by its line.
IMPORT_CSV = (
    "email,first_name,last_name,birthday,timezone\n"
    "iris@example.org,Iris,Quinn,1992-04-01,Europe/Paris\n"
    "jon@example.org,Jon,,,\n"
    "not-an-address,Kim,,,\n"
    "lea@example.org,Lea,,1990-02-30,\n"
    "max@example.org,Max,,,Mars/Olympus\n"
    'nia@example.org,"Nia\nBcc: everyone@example.org",,,\n'
    "IRIS@example.org,,Quinn-Smith,,\n"
)
IMPORT_EXPECTED = {"rows": 7, "created": 2, "updated": 1, "unchanged": 0, "suppressed": 0, "failed": 4}


class DemoFailed(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailed(message)


def audience(size: int = 300, seed: int = 2026) -> dict[str, dict]:
    """Deterministic profiles: two named characters and size-2 generated ones (p-0001 ...)."""
    rng = random.Random(seed)
    people = {
        TRAVELLER: {"first_name": "Ada", "birthday": "1988-06-12", "timezone": "Europe/Berlin"},
        CAR_LOVER: {"first_name": "Carl", "birthday": "1979-10-03", "timezone": "America/New_York"},
    }
    for n in range(1, size - 1):
        profile_id = f"p-{n:04d}"
        attributes = {"first_name": rng.choice(NAMES), "timezone": rng.choice(ZONES)}
        if profile_id in BIRTHDAY_PEOPLE:
            attributes["birthday"] = BIRTHDAY_PEOPLE[profile_id]
        elif rng.random() < 0.85:
            # Away from the story's days (18 Feb - 3 Mar), so exactly BIRTHDAY_PEOPLE celebrate on the 28th.
            month = rng.choice([1, 4, 5, 6, 7, 8, 9, 10, 11, 12])
            attributes["birthday"] = f"{rng.randint(1950, 2006)}-{month:02d}-{rng.randint(1, 28):02d}"
        people[profile_id] = attributes
    return people


def email(profile_id: str) -> str:
    return f"{profile_id}@example.net"


class Story:
    def __init__(self, client: LocalClient, people: dict[str, dict], out_dir: Path, *, live: bool = False) -> None:
        self.c = client
        self.people = people
        self.out_dir = out_dir
        self.live = live  # the runtime stays up after the story: the outbox's links will work
        self.facts: dict[str, object] = {}

    # --- narration ----------------------------------------------------------------------------------------------

    def chapter(self, title: str) -> None:
        print(f"\n== {title}")

    def say(self, text: str) -> None:
        print(f"   {text}")

    def mails(self, template: str, profile_id: str | None = None) -> list[dict]:
        return self.c.outbox(to=email(profile_id) if profile_id else None, template=template)

    def drain(self) -> int:
        answer = self.c.drain()
        check(not answer["dead_letters"], f"work ended in a dead-letter queue: {answer['dead_letters']}")
        return answer["processed"]

    def settle(self) -> None:
        """Let the clicks so far count: the runtime clock moves past the click settle window, then drain."""
        answer = self.c.settle()
        check(not answer["dead_letters"], f"work ended in a dead-letter queue: {answer['dead_letters']}")

    def drain_watching_the_outbox(self, label: str) -> None:
        """Drain, printing how many mails SES has accepted as the pump sends them."""
        with Progress(f"{label}, mails in the outbox") as step:
            step.watch(self.c.outbox_size)
            self.drain()
            step.update(self.c.outbox_size())

    def parallel(self, label: str, work, items) -> list:
        """`work` on every item, as many at a time as a function has environments, counting completions."""
        items = list(items)
        done: list[None] = []  # one entry per finished item: list.append is atomic, a shared += is not

        def counted(item):
            result = work(item)
            done.append(None)
            return result

        with Progress(f"{label} x {len(items)}") as step:
            step.watch(lambda: len(done))
            with ThreadPoolExecutor(max_workers=lambdas.MAX_ENVIRONMENTS) as pool:
                results = list(pool.map(counted, items))
            step.update(len(results))
        return results

    # --- the story ----------------------------------------------------------------------------------------------

    def run(self) -> None:
        self.newsletter()
        self.clicks()
        self.scanner()
        self.birthdays()
        self.silence()
        self.double_opt_in()
        self.preference_unsubscribe()
        self.hard_bounce()
        self.csv_import()
        self.campaign()
        self.summary()

    def newsletter(self) -> None:
        self.chapter(f"{START}  Monday morning: {len(self.people)} subscribers get the newsletter")
        self.c.set_clock(START)
        self.parallel(
            "PUT /v1/profiles/{id}",
            lambda item: self.c.put_profile(item[0], email(item[0]), **item[1]),
            self.people.items(),
        )
        self.parallel(
            "POST /v1/messages (newsletter-demo, idempotency key newsletter-1)",
            lambda pid: self.c.send(pid, "newsletter-demo", "newsletter-1"),
            self.people,
        )
        self.drain_watching_the_outbox("POST /_local/drain")
        sent = self.mails("newsletter-demo")
        self.say(f"queues drained: the outbox holds {len(sent)} newsletters")
        check(len(sent) == len(self.people), f"expected {len(self.people)} newsletters, the outbox has {len(sent)}")
        again = self.c.send(TRAVELLER, "newsletter-demo", "newsletter-1")
        self.drain()
        check(len(self.mails("newsletter-demo", TRAVELLER)) == 1, "the same idempotency key sent a second newsletter")
        self.say(f"sending Ada's again with the same key: {again} -> still one newsletter for her")

    def clicks(self) -> None:
        self.chapter(f"{CLICK_TIME}  Ada dreams of Australia, Carl of a new car")
        self.c.set_clock(CLICK_TIME)
        (ada_mail,) = self.mails("newsletter-demo", TRAVELLER)
        (carl_mail,) = self.mails("newsletter-demo", CAR_LOVER)
        travel = link_containing(ada_mail["html"], "Australia", base_url=self.c.base_url)
        car = link_containing(carl_mail["html"], "car", base_url=self.c.base_url)
        self.facts["travel_link"] = travel
        self.facts["before"] = {p: self.c.profile(p) for p in (TRAVELLER, CAR_LOVER)}
        for who, link in (("Ada", travel), ("Carl", car)):
            responses = [self.c.click(link) for _ in range(3)]
            for n, response in enumerate(responses, 1):
                check(response.status == 302, f"{who}'s click {n} answered {response}")
            locations = {response.location for response in responses}
            self.say(
                f"{who} clicks 3 times: GET {short(link)} -> {' '.join(str(r.status) for r in responses)}, "
                f"Location: {', '.join(sorted(map(str, locations)))}"
            )
        forged = tamper(travel)
        response = self.c.click(forged)
        self.say(f"a tampered copy of Ada's link: GET {short_change(travel, forged)}")
        self.say(f"   -> {response.status}, Location: {response.location or 'none'} (the signature no longer matches)")
        check(response.status == 404 and response.location is None, f"a tampered link answered {response}")
        self.settle()
        self.facts["after"] = {p: self.c.profile(p) for p in (TRAVELLER, CAR_LOVER)}
        self.say(
            "30 s later (the settle window, in which a scanner's burst would show): "
            "clicks -> profile stream -> threshold events -> send requests -> SES"
        )
        for profile_id, counter in ((TRAVELLER, "travel"), (CAR_LOVER, "cars")):
            before, after = self.facts["before"][profile_id], self.facts["after"][profile_id]
            self.say(
                f"{after['attributes']['first_name']}: interests {before['interests']} -> {after['interests']}, "
                f"last_activity_at {before['last_activity_at']} -> {after['last_activity_at']}"
            )
            check(after["interests"].get(counter) == 3, f"{profile_id}: {counter} should be 3, is {after['interests']}")
        travel_offers, car_offers = self.offers_reach_the_right_people()
        self.say(f"travel-offers -> {travel_offers[0]['to'][0]} ({travel_offers[0]['subject']!r}), exactly once")
        self.say(f"car-offers    -> {car_offers[0]['to'][0]} ({car_offers[0]['subject']!r}), exactly once")

    def scanner(self) -> None:
        self.chapter(f"{SCAN_TIME}  A mail gateway's scanner opens every link of {SCANNED}'s newsletter")
        self.c.set_clock(SCAN_TIME)
        (mail,) = self.mails("newsletter-demo", SCANNED)
        links = sorted(set(re.findall(rf'href="({re.escape(self.c.base_url)}/r/[^"]+)"', mail["html"])))
        before = self.c.profile(SCANNED)
        heads = [self.c.request("HEAD", link, auth=False, headers={"User-Agent": SCANNER_UA}) for link in links]
        gets = [self.c.click(link, user_agent=SCANNER_UA) for link in links]
        check(all(r.status == 302 for r in heads + gets), "a scanner's request did not get its redirect")
        self.say(
            f"HEAD then GET on all {len(links)} links within a second (the hidden honeypot link too), "
            f"with a browser's user agent -> {' '.join(str(r.status) for r in heads + gets)}"
        )
        self.settle()
        after = self.c.profile(SCANNED)
        check(after["interests"] == before["interests"], f"the scanner moved interests: {after['interests']}")
        check(after["last_activity_at"] == before["last_activity_at"], "the scanner counted as activity")
        check(self.mails("travel-offers", SCANNED) + self.mails("car-offers", SCANNED) == [], "a scanner got offers")
        self.say(
            f"settled: a HEAD, the honeypot and a burst of {len(links)} links in 10 s -> a machine's clicks, "
            f"recorded apart; interests {after['interests']}, last activity {after['last_activity_at']} (unchanged)"
        )

    def offers_reach_the_right_people(self) -> tuple[list[dict], list[dict]]:
        travel_offers, car_offers = self.mails("travel-offers"), self.mails("car-offers")
        check([m["to"] for m in travel_offers] == [[email(TRAVELLER)]], f"travel-offers went to {travel_offers!r:.300}")
        check([m["to"] for m in car_offers] == [[email(CAR_LOVER)]], f"car-offers went to {car_offers!r:.300}")
        return travel_offers, car_offers

    def birthdays(self) -> None:
        self.chapter(f"{BIRTHDAY_TIME}  Saturday 28 February: birthdays (29 February celebrates today in 2026)")
        self.c.set_clock(BIRTHDAY_TIME)
        travel = self.facts["travel_link"]
        check(self.c.click(travel).status == 302, "Ada's fourth click failed")
        self.settle()
        ada = self.c.profile(TRAVELLER)
        check(ada["interests"].get("travel") == 4, f"Ada's travel interest should be 4: {ada['interests']}")
        self.offers_reach_the_right_people()
        self.say("Ada clicks once more: travel = 4, and still one travel-offers mail (and one car-offers)")
        expected = sorted(email(p) for p in BIRTHDAY_PEOPLE)
        self.run_twice("birthday", expected)

    def silence(self) -> None:
        self.chapter(f"{SILENCE_TIME}  61 days later: we miss you")
        self.c.set_clock(SILENCE_TIME)
        # Ada clicked on 28 February, so she is not silent for 60 days yet; everyone else is.
        expected = sorted(email(p) for p in self.people if p != TRAVELLER)
        self.run_twice("we-miss-you", expected)

    def double_opt_in(self) -> None:
        self.chapter("Nia signs up on the website: a double opt-in")
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        body = urllib.parse.urlencode({"email": NEWCOMER, "first_name": "Nia", "topics": ["travel", "tips"]}, True)
        answer = self.c.request("POST", "/subscribe", body.encode(), auth=False, headers=form)
        check(answer.status == 200, f"POST /subscribe answered {answer}")
        self.say("POST /subscribe (the site's form: email, first_name, topics travel + tips) -> 200 'Check your inbox'")
        self.drain()
        confirms = self.c.outbox(to=NEWCOMER, template="confirm")
        check(len(confirms) == 1, f"expected one confirm mail, the outbox has {len(confirms)}")
        check("List-Unsubscribe" not in confirms[0]["headers"], "the confirm mail carries an unsubscribe header")
        link = re.search(r"https?://\S+/c/[A-Za-z0-9._~:-]+", confirms[0]["text"]).group(0)
        self.say(f"the confirm mail is in the outbox (transactional: no unsubscribe link), linking {short(link)}")
        page = self.c.request("GET", link, auth=False)
        pending = self.c.ok("GET", f"/v1/profiles?email={NEWCOMER}")
        check(page.status == 200 and b"Confirm" in page.body, f"GET of the confirm link answered {page}")
        check(pending["status"] == "pending", f"showing the confirm page changed the profile: {pending['status']}")
        self.say("GET of the link (what a link scanner does) shows a Confirm button; the profile stays pending")
        posts = [self.c.request("POST", link, b"", auth=False, headers=form).status for _ in range(2)]
        check(posts == [200, 200], f"POST of the confirm link answered {posts}")
        self.drain()
        profile = self.c.ok("GET", f"/v1/profiles?email={NEWCOMER}")
        welcomes = self.c.outbox(to=NEWCOMER, template="welcome")
        check(profile["status"] == "subscribed", f"confirming left the profile {profile['status']}")
        check(len(welcomes) == 1, f"confirming twice sent {len(welcomes)} welcome mails")
        consent = profile["consent"]
        self.say(f"POST twice -> subscribed, topics {profile['topics']}, one welcome mail ({welcomes[0]['subject']!r})")
        self.say(f"consent: source {consent['source']}, at {consent['at']}, ip {consent['ip']}")
        self.say(f"   text agreed to: {consent['text']!r}")
        self.facts["newcomer"] = profile["profile_id"]

    def preference_unsubscribe(self) -> None:
        self.chapter("Nia leaves from the preference page")
        (welcome,) = self.c.outbox(to=NEWCOMER, template="welcome")
        link = re.search(r"https?://\S+/p/[A-Za-z0-9._:-]+", welcome["text"]).group(0)
        page = self.c.request("GET", link, auth=False)
        check(page.status == 200 and b"Unsubscribe from all" in page.body, f"the preference page answered {page}")
        self.say(f"the welcome mail's footer links {short(link)}: her topics, and 'Unsubscribe from all'")
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        left = self.c.request("POST", link, b"action=leave", auth=False, headers=form)
        check(left.status == 200, f"leaving answered {left}")
        profile_id = self.facts["newcomer"]
        profile = self.c.profile(profile_id)
        check(
            (profile["status"], profile["consent"]["source"]) == ("unsubscribed", "preference_page"),
            f"leaving left the profile {profile['status']} ({profile['consent']})",
        )
        refused = self.c.request("PUT", f"/v1/profiles/{profile_id}", {"status": "subscribed"})
        check(refused.status == 409, f"an integrator re-subscribed someone who left: {refused}")
        self.say("POST action=leave -> unsubscribed (source preference_page)")
        self.say(f"an integrator's PUT status=subscribed -> {refused.status} {refused.json()['code']}")

    def run_twice(self, schedule: str, expected: list[str]) -> None:
        with Progress(f"POST /_local/schedules/{schedule}/run"):
            answer = self.c.run_schedule(schedule)
        self.say(f"   -> {answer}")
        self.drain_watching_the_outbox("POST /_local/drain")
        sent = sorted(m["to"][0] for m in self.mails(schedule))
        self.say(f"{schedule} mails: {len(sent)}" + (f" ({', '.join(sent)})" if len(sent) <= 8 else ""))
        check(
            sent == expected,
            f"{schedule} should reach {len(expected)} profiles, reached {len(sent)}: "
            f"missing {sorted(set(expected) - set(sent))[:5]}, extra {sorted(set(sent) - set(expected))[:5]}",
        )
        answer = self.c.run_schedule(schedule)
        self.drain()
        again = len(self.mails(schedule))
        self.say(f"run again -> {answer}; {schedule} mails still {again}")
        check(again == len(expected), f"running {schedule} twice sent {again - len(expected)} more mails")

    def hard_bounce(self) -> None:
        self.chapter("A mailbox that does not exist: a hard bounce suppresses the address")
        profile_id, address = "p-bounce", "bounce@simulator.amazonses.com"
        self.c.put_profile(profile_id, address, first_name="Bo")
        first = self.c.send(profile_id, "newsletter-demo", "bounce-1")["message_id"]
        self.drain()  # SES accepts it; its mailbox simulator answers with a permanent bounce, as SES does
        self.drain()  # the bounce reaches the feedback function through the default bus
        suppression = self.c.profile(profile_id)["suppression"]
        check(suppression is not None and suppression["reason"] == "bounce", f"not suppressed: {suppression}")
        self.say(f"a newsletter to {address} -> sent, then SES's permanent bounce -> suppression {suppression}")
        second = self.c.send(profile_id, "newsletter-demo", "bounce-2")["message_id"]
        self.drain()
        status = self.c.ok("GET", f"/v1/messages/{second}")
        check((status["state"], status.get("reason")) == ("skipped", "suppressed"), f"the next mail: {status}")
        sent = [m for m in self.c.outbox(to=address) if m["message_id"] in (first, second)]
        check(len(sent) == 1, f"the bounced address got {len(sent)} mails")
        self.say(f"the next mail -> GET /v1/messages/{{id}}: {status['state']} ({status['reason']}); nothing sent")

    def csv_import(self) -> None:
        self.chapter("A CSV import with bad rows")
        path = "/v1/imports?status=subscribed&consent_source=demo-fair-2026"
        answer = self.c.request("POST", path, IMPORT_CSV.encode(), headers={"Content-Type": "text/csv"})
        check(answer.status == 202, f"POST {path} answered {answer}")
        import_id = answer.json()["import_id"]
        self.say(f"POST {path} (a text/csv body) -> 202 {import_id}")
        self.drain()
        report = self.c.ok("GET", f"/v1/imports/{import_id}")
        counters = {k: report[k] for k in ("rows", "created", "updated", "unchanged", "suppressed", "failed")}
        self.say(f"GET /v1/imports/{{id}} -> {report['status']}: {counters}")
        for error in report["errors"]:
            self.say(f"   line {error['line']}: {error['reason']}")
        check(
            report["status"] == "done" and counters == IMPORT_EXPECTED,
            f"the import should count {IMPORT_EXPECTED}, counted {counters}",
        )
        check([e["line"] for e in report["errors"]] == [4, 5, 6, 7], f"errors by line: {report['errors']}")
        iris = self.c.ok("GET", "/v1/profiles?email=iris@example.org")
        check(iris["consent"]["source"] == "import", f"Iris's consent: {iris['consent']}")
        self.say(f"iris@example.org: {iris['status']}, consent {iris['consent']}")

    def campaign(self) -> None:
        self.chapter(f"{CAMPAIGN_TIME}  A segmented A/B newsletter with offers picked by interests, and a reminder")
        self.c.set_clock(CAMPAIGN_TIME)
        berlin = {"field": "attributes.timezone", "op": "==", "value": "Europe/Berlin"}
        self.c.ok("PUT", "/v1/segments/berlin", {"name": "Subscribers in Berlin", "rules": berlin})
        preview = self.c.ok("POST", "/v1/segments/berlin/preview")
        self.say(f"segment berlin ({berlin}): {preview['count']} subscribed, unsuppressed people")
        definition = {
            "name": "Spring picks",
            "template": "offers-digest",
            "segment": "berlin",
            "variants": [{"id": "a", "subject": SUBJECT_A}, {"id": "b", "subject": SUBJECT_B}],
            "ab": {"test_share": 0.5, "metric": "human_clicks", "wait": "4h", "holdout_share": 0.1},
            "goal": {"click": True},
            "stages": [{"id": "reminder", "after": "2d", "template": "offers-digest", "to": "not_converted"}],
        }
        campaign_id = self.c.ok("POST", "/v1/campaigns", definition)["campaign_id"]
        self.say(f"POST /v1/campaigns -> {campaign_id}: variants a/b on half of them, 10 % held out, winner after 4 h")
        self.c.ok("POST", f"/v1/campaigns/{campaign_id}/send")
        self.drain_watching_the_outbox(f"POST /v1/campaigns/{campaign_id}/send, then drain")
        audience = self.c.ok("GET", f"/v1/campaigns/{campaign_id}")["targeted"]
        check(audience == preview["count"], f"the campaign targeted {audience}, the preview counted {preview['count']}")
        tested = self.mails("offers-digest")
        by_variant = Counter("b" if "trips and drives" in m["subject"] else "a" for m in tested)
        expected_test = round(0.5 * audience)
        self.say(f"test share: {len(tested)} mails, a: {by_variant['a']}, b: {by_variant['b']} (of {audience})")
        check(len(tested) == expected_test, f"the test share should be {expected_test} mails, was {len(tested)}")
        check(abs(by_variant["a"] - by_variant["b"]) <= 1, f"the variants should split evenly: {by_variant}")

        # Three people like variant b's subject and click an offer in it: their clicks settle as a person's.
        clickers = [m for m in tested if "trips and drives" in m["subject"]][:3]
        for mail in clickers:
            response = self.c.click(link_containing(mail["html"], "See the offer", base_url=self.c.base_url))
            check(response.status == 302, f"an offer click answered {response}")
        self.settle()
        self.say(f"{len(clickers)} recipients of b click an offer; 4 h later the test is decided")
        self.c.set_clock(WINNER_TIME)
        self.drain_watching_the_outbox("the A/B wait ends (a one-time schedule), drain")
        shown = self.c.ok("GET", f"/v1/campaigns/{campaign_id}")
        check(shown["winner"] == "b", f"b had the human clicks, the winner is {shown['winner']}")
        holdout = round(0.1 * audience)
        everyone = self.mails("offers-digest")
        check(
            len(everyone) == audience - holdout,
            f"everyone but the holdout ({holdout}) should have one mail: {len(everyone)} of {audience}",
        )
        self.say(f"winner: b; the other {len(everyone) - len(tested)} got b, the {holdout} held out got nothing")
        ada = self.mails("offers-digest", TRAVELLER)
        if ada:
            first = re.search(r"<h2[^>]*>([^<]+)</h2>", ada[0]["html"])
            title = html.unescape(first.group(1)) if first else "?"
            check("Australia" in title or "Japan" in title or "Zealand" in title, f"Ada's first offer: {title}")
            self.say(
                f"Ada (travel interest {self.c.profile(TRAVELLER)['interests'].get('travel')}) sees first: {title}"
            )
        else:
            self.say("Ada is in the holdout this time: no mail for her, and her purchases are measured")

        self.c.set_clock(REMINDER_TIME)
        self.drain_watching_the_outbox("two days later the reminder stage fires, drain")
        for mail in clickers:
            received = self.mails("offers-digest", mail["to"][0].split("@")[0])
            check(len(received) == 1, f"a clicker reached the goal and must get no reminder: {len(received)} mails")
        shown = self.c.ok("GET", f"/v1/campaigns/{campaign_id}")
        reminded = shown["stats"]["stages"]["reminder"]["total"]["sent"]
        check(
            reminded == audience - holdout - len(clickers),
            f"the reminder should reach {audience - holdout - len(clickers)}, sent {reminded}",
        )
        self.say(f"reminder: {reminded} mails (not to the {len(clickers)} who clicked, nor the holdout)")
        check(shown["status"] == "sent", f"the campaign should be sent, is {shown['status']}")
        self.say(f"GET /v1/campaigns/{campaign_id} (what `closedloop stats {campaign_id}` prints):")
        for line in stats_table(shown).splitlines():
            self.say(f"   {line}")

    def summary(self) -> None:
        outbox = self.c.outbox()
        counts = Counter(m["template"] for m in outbox)
        self.chapter("Summary")
        for template, count in sorted(counts.items(), key=lambda kv: -kv[1]):
            self.say(f"{count:>5}  {template}")
        self.say(f"{len(outbox):>5}  messages in total")
        for profile_id in (TRAVELLER, CAR_LOVER):
            before, after = self.facts["before"][profile_id], self.c.profile(profile_id)
            self.say(
                f"{after['attributes']['first_name']} ({profile_id}): interests {before['interests']} -> "
                f"{after['interests']}; last activity {before['last_activity_at']} -> {after['last_activity_at']}"
            )
        index = write_outbox(outbox, self.out_dir, live_url=self.c.base_url if self.live else None)
        self.say(f"outbox written to {index}")


def short(url: str) -> str:
    head, _, token = url.rpartition("/")
    return f"{head}/{token[:10]}...{token[-6:]}" if len(token) > 20 else url


def short_change(original: str, changed: str) -> str:
    """`changed` shortened around the one character in which it differs from `original`, that one in brackets."""
    at = next(i for i, (a, b) in enumerate(zip(original, changed, strict=True)) if a != b)
    head, _, token = changed.rpartition("/")
    position = at - len(head) - 1
    before = token[max(0, position - 8) : position]
    after = token[position + 1 : position + 9]
    return (
        f"{head}/{token[:4]}...{before}[{token[position]}]{after}...{token[-4:]}"
        f"  (character {position + 1} of the token: {original[at]!r} became {token[position]!r})"
    )


def outbox_note(live_url: str | None) -> str:
    """What index.html says about the links in these mails: whether they work, and how to make them work."""
    if live_url:
        return (
            f"The runtime that sent these mails is up at <code>{html.escape(live_url)}</code> while "
            f"<code>{LIVE_COMMAND}</code> runs: their tracking and unsubscribe links work until you stop it with "
            f"Ctrl-C. Its own outbox page: <a href='{html.escape(live_url)}/_local/outbox.html'>"
            f"{html.escape(live_url)}/_local/outbox.html</a>."
        )
    return (
        "The links in these mails pointed at the demo's runtime, which stopped when the demo ended, so they do not "
        f"answer any more. To click them, run <code>{LIVE_COMMAND}</code> (or <code>.venv/bin/closedloop demo "
        "--keep-running</code>): it tells the same story, writes this outbox again with links to "
        f"<code>http://127.0.0.1:{LIVE_PORT}</code> and keeps that runtime up until Ctrl-C."
    )


def write_outbox(messages: list[dict], out_dir: Path, *, live_url: str | None = None) -> Path:
    """index.html plus one HTML file per message; earlier demo files there are replaced."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.html"):
        old.unlink()
    rows = []
    for n, message in enumerate(messages, 1):
        name = (
            f"{n:04d}-{message['template'] or 'message'}-{slug(message['to'][0] if message['to'] else 'nobody')}.html"
        )
        head = (
            f"<p style='font:13px monospace;background:#eee;padding:.5em'>to {html.escape(', '.join(message['to']))}"
            f" &middot; {html.escape(message['subject'])} &middot; {html.escape(message['sent_at'] or '')}</p>"
        )
        (out_dir / name).write_text(head + (message["html"] or f"<pre>{html.escape(message['text'] or '')}</pre>"))
        rows.append(
            f"<tr><td>{n}</td><td>{html.escape(message['sent_at'] or '')}</td>"
            f"<td>{html.escape(message['template'] or '')}</td><td>{html.escape(', '.join(message['to']))}</td>"
            f"<td><a href='{name}'>{html.escape(message['subject'])}</a></td></tr>"
        )
    index = out_dir / "index.html"
    index.write_text(
        "<!doctype html><meta charset='utf-8'><title>closedloop demo outbox</title>"
        "<style>body{font-family:system-ui;margin:2rem}td{padding:.2em .6em}</style>"
        f"<h1>closedloop demo outbox</h1><p>{len(messages)} messages. {outbox_note(live_url)}</p>"
        f"<table><tr><th>#</th><th>sent</th><th>template</th><th>to</th><th>subject</th></tr>{''.join(rows)}</table>"
    )
    return index.resolve()


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profiles", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("outbox"))
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="after the story, keep the runtime up (until Ctrl-C) so the outbox's links can be clicked",
    )
    parser.add_argument(
        "--port", type=int, default=None, help=f"default: {LIVE_PORT} with --keep-running, else any free port"
    )


def run(args: argparse.Namespace) -> int:
    """Tell the story; 0 when it held, 1 when it did not, 2 when the runtime could not start."""
    check_size = max(args.profiles, max(int(p[2:]) for p in BIRTHDAY_PEOPLE) + 2)
    port = args.port if args.port is not None else (LIVE_PORT if args.keep_running else 0)
    started = time.monotonic()
    print("closedloop demo: the local runtime (moto plays AWS), driven over HTTP", flush=True)
    runtime = Runtime(port=port, quiet=True)
    if not foreground.started(runtime, "closedloop demo"):
        return 2
    try:
        print(f"   runtime at {runtime.base_url}  (admin API key {runtime.api_key})")
        client = LocalClient(runtime.base_url, runtime.api_key)
        Story(client, audience(check_size), args.out, live=args.keep_running).run()
    except DemoFailed as failure:
        runtime.stop()
        print(f"\nDEMO FAILED: {failure}", file=sys.stderr)
        return 1
    except BaseException:
        runtime.stop()
        raise
    print(f"\nThe loop closed. ({time.monotonic() - started:.1f} s)", flush=True)
    if not args.keep_running:
        runtime.stop()
        return 0
    print(
        f"\nThe runtime stays up at {runtime.base_url}: the links in {args.out / 'index.html'} work now, and so does"
        f"\n{runtime.base_url}/_local/outbox.html. Ctrl-C stops it.",
        flush=True,
    )
    foreground.serve_until_stopped(runtime)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m closedloop_local.demo", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
