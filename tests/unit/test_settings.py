from pathlib import Path

import pytest

from closedloop.settings import MissingSetting, Settings


def test_a_setting_is_read_and_converted_on_first_use(monkeypatch):
    monkeypatch.setenv("TRACKING_BASE_URL", "https://links.example.com/")
    monkeypatch.setenv("CONTENT_DIR", "/opt/content")
    settings = Settings()
    assert (settings.tracking_base_url, settings.content_dir) == ("https://links.example.com", Path("/opt/content"))


def test_a_setting_is_kept_once_read(monkeypatch):
    monkeypatch.setenv("PROFILES_TABLE", "profiles-a")
    settings = Settings()
    assert settings.profiles_table == "profiles-a"
    monkeypatch.setenv("PROFILES_TABLE", "profiles-b")
    assert settings.profiles_table == "profiles-a"


def test_a_missing_variable_is_a_deployment_error_naming_it(monkeypatch):
    monkeypatch.delenv("LEDGER_TABLE", raising=False)
    with pytest.raises(MissingSetting, match="LEDGER_TABLE"):
        _ = Settings().ledger_table


def test_an_optional_setting_may_be_absent(monkeypatch):
    monkeypatch.delenv("SES_CONFIGURATION_SET", raising=False)
    assert Settings().configuration_set is None
