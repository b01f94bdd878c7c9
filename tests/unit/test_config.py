"""The marketers' configuration is refused with a sentence naming the key, before it can hurt a send."""

import shutil

import pytest

from closedloop.config import parse_config
from closedloop.content import check_content
from closedloop.errors import ConfigError
from tests.unit.conftest import CONTENT

RULE = {"id": "travel-offers", "counter": "travel", "at": 3, "template": "travel-offers"}


@pytest.mark.parametrize(
    "document, sentence",
    [
        ({"we_miss_you": {"inactive_dayz": 60}}, 'unknown key "inactive_dayz" in [we_miss_you]'),
        ({"birthdays": {}}, 'unknown section "birthdays"'),
        ({"thresholds": [{**RULE, "at": "3"}]}, '"at" in [[thresholds]] number 1 must be a whole number'),
        ({"thresholds": [{**RULE, "colour": "red"}]}, 'unknown key "colour" in [[thresholds]] number 1'),
        ({"thresholds": [{"id": "x", "counter": "travel", "at": 3}]}, '[[thresholds]] number 1 needs "template"'),
        ({"thresholds": [RULE, RULE]}, "threshold ids must be unique"),
        ({"thresholds": [{**RULE, "at": 0}]}, "at >= 1"),
        ({"birthday": {"local_hour": 24}}, "local_hour must be 0..23"),
        ({"we_miss_you": {"inactive_days": 0}}, "inactive_days must be >= 1"),
    ],
)
def test_a_mistake_is_named_in_one_sentence(document, sentence):
    with pytest.raises(ConfigError) as raised:
        parse_config(document)
    assert sentence in raised.value.message and raised.value.message.startswith("config/closedloop.toml")


def test_an_empty_document_means_the_defaults():
    config = parse_config({})
    assert (config.thresholds, config.we_miss_you.inactive_days, config.activity_retention_days) == ((), 60, 400)


@pytest.fixture
def content(tmp_path):
    shutil.copytree(CONTENT, tmp_path, dirs_exist_ok=True)
    return tmp_path


def test_the_tests_own_content_passes_the_check(content):
    check_content(content)


def test_a_rule_naming_a_template_that_does_not_exist_fails_the_check(content):
    (content / "config" / "closedloop.toml").write_text(
        '[[thresholds]]\nid = "x"\ncounter = "travel"\nat = 3\ntemplate = "travel-ofers"\n'
    )
    with pytest.raises(ConfigError, match="names template 'travel-ofers'"):
        check_content(content)


def test_an_unknown_default_time_zone_fails_the_check(content):
    (content / "config" / "closedloop.toml").write_text('[birthday]\ndefault_timezone = "Mars/Olympus"\n')
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        check_content(content)


def test_a_template_that_does_not_parse_fails_the_check_with_its_file_and_line(content):
    (content / "templates" / "birthday" / "body.txt").write_text("Hello\n{% if %}\n")
    with pytest.raises(ConfigError, match=r"templates/birthday/body.txt, line 2"):
        check_content(content)


@pytest.mark.parametrize(
    "document, sentence",
    [
        ({"topics": [{"id": "news", "label": "News"}, {"id": "news", "label": "Again"}]}, "topic ids must be unique"),
        ({"topics": [{"id": "News!", "label": "News"}]}, "needs an id like 'travel'"),
        ({"topics": [{"id": "news"}]}, '[[topics]] number 1 needs "label"'),
        ({"topics": {"id": "news"}}, "topics must be written as [[topics]] tables"),
        ({"double_opt_in": {"link_valid_days": 0}}, "link_valid_days must be 1..30"),
        ({"double_opt_in": {"consent_text": " "}}, "consent_text must be a sentence"),
    ],
)
def test_a_mistake_in_topics_or_double_opt_in_is_named(document, sentence):
    with pytest.raises(ConfigError) as raised:
        parse_config(document)
    assert sentence in str(raised.value)


def test_topics_are_read_in_order(content):
    from closedloop.config import load_config

    load_config.cache_clear()
    assert load_config(content).topic_ids == ("news", "travel", "cars", "tips")
