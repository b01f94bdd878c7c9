"""`closedloop campaigns` and `closedloop stats`: tables from the admin API's answers (canned JSON here)."""

import json
from decimal import Decimal

import pytest

from closedloop import campaign_stats
from closedloop_local import cli, stats_command

SUMMARY = campaign_stats.merge(
    [
        ("main", "a", {"targeted": 400, "sent": 398, "skipped.no_consent": 2, "clicks_human": 31}),
        ("main", "b", {"targeted": 400, "sent": 400, "links.https://e.com/trip": 12, "revenue.EUR": Decimal("99.5")}),
        ("reminder", "-", {"targeted": 150, "sent": 150, "conversions": 3}),
    ]
)
CAMPAIGN = {"campaign_id": "c_1", "name": "Spring sale", "status": "sending", "created_at": "2026-03-01T12:00:00Z"}


def test_the_campaign_list_shows_id_name_status_created_targeted_and_sent():
    table = stats_command.campaigns_table([{**CAMPAIGN, "targeted": 1000, "stats": SUMMARY}])
    header, rule, row = table.splitlines()
    assert header.split() == ["id", "name", "status", "created", "targeted", "sent"]
    assert row.split() == ["c_1", "Spring", "sale", "sending", "2026-03-01", "12:00", "1,000", "948"]
    assert stats_command.campaigns_table([]) == "no campaigns yet"


def test_the_stats_table_has_a_column_per_stage_and_variant_and_a_row_per_metric():
    lines = stats_command.stats_table({**CAMPAIGN, "stats": SUMMARY}).splitlines()
    assert lines[0] == "campaign c_1  Spring sale  (sending)"
    assert lines[2].split() == ["campaign", "main", "main/a", "main/b", "reminder"]
    rows = {line[:24].strip(): line[24:].split() for line in lines[4:]}
    assert rows["sent"] == ["948", "798", "398", "400", "150"]
    assert rows["no_consent"] == ["2", "2", "2", "0", "0"]
    assert rows["https://e.com/trip"] == ["12", "12", "0", "12", "0"]
    assert rows["EUR"] == ["99.50", "99.50", "0", "99.50", "0"]
    assert rows["conversions"] == ["3", "0", "0", "0", "3"]


def test_a_campaign_without_statistics_yet_shows_zeros():
    table = stats_command.stats_table({**CAMPAIGN, "stats": {}})
    assert "sent" in table and table.splitlines()[2].split() == ["campaign"]


def test_without_url_or_key_the_commands_say_what_to_give(monkeypatch, capsys):
    monkeypatch.delenv("CLOSEDLOOP_URL", raising=False)
    monkeypatch.delenv("CLOSEDLOOP_API_KEY", raising=False)
    assert cli.main(["stats", "c_1"]) == 2
    assert "CLOSEDLOOP_URL" in capsys.readouterr().err


class CannedClient:
    def __init__(self, answers):
        self.answers, self.paths = answers, []

    def request(self, method, path, body=None, **kwargs):
        from closedloop_local.client import Response

        self.paths.append(path)
        status, answer = self.answers[path]
        return Response(status, {}, json.dumps(answer).encode())


def test_the_list_follows_the_cursor_and_reads_each_campaign_for_its_counts():
    client = CannedClient(
        {
            "/v1/campaigns?limit=25": (200, {"campaigns": [CAMPAIGN], "cursor": "n1"}),
            "/v1/campaigns?limit=25&cursor=n1": (200, {"campaigns": [{**CAMPAIGN, "campaign_id": "c_0"}]}),
            "/v1/campaigns/c_1": (200, {**CAMPAIGN, "targeted": 5, "stats": SUMMARY}),
            "/v1/campaigns/c_0": (200, {**CAMPAIGN, "campaign_id": "c_0", "targeted": 0, "stats": {}}),
        }
    )
    assert [c["campaign_id"] for c in stats_command._campaigns(client, 50)] == ["c_1", "c_0"]


def test_an_http_error_is_reported_with_its_code():
    client = CannedClient({"/v1/campaigns/nope": (404, {"code": "campaign_not_found", "message": "no campaign"})})
    with pytest.raises(stats_command.CommandFailed, match="HTTP 404 campaign_not_found: no campaign"):
        stats_command._get(client, "/v1/campaigns/nope")
