import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closedloop import tokens
from closedloop.errors import InvalidToken
from closedloop.tokens import ClickToken, MessageToken, TokenSigner, TrackingKeys

SIGNER = TokenSigner(TrackingKeys.from_secret({"current": "k1", "k1": "property-test-secret"}))
CLICK = ClickToken(message_id="Zm9vYmFyYmF6cXV4MTIzNA", profile_id="p-0001", link_set="a1b2c3d4e5f6a7b8c9d0", link_no=1)


def test_a_click_token_round_trips(signer):
    assert signer.verify_click(signer.click(CLICK)) == CLICK


def test_a_click_token_is_short_enough_for_mail_clients(signer):
    assert len(signer.click(CLICK)) < 100


def test_a_token_replayed_with_another_link_number_is_refused(signer):
    kid, message, profile, link_set, _, signature = signer.click(CLICK).split(".")
    with pytest.raises(InvalidToken):
        signer.verify_click(".".join([kid, message, profile, link_set, "0", signature]))


def test_an_open_token_cannot_be_used_to_unsubscribe(signer):
    token = signer.message("open", MessageToken(CLICK.message_id, CLICK.profile_id))
    with pytest.raises(InvalidToken):
        signer.verify_message("unsubscribe", token)


def test_a_token_with_an_unknown_key_id_is_refused(signer):
    token = signer.click(CLICK)
    with pytest.raises(InvalidToken):
        signer.verify_click("k9" + token[2:])


def test_tokens_signed_with_a_retired_current_key_still_verify_after_rotation():
    old = TokenSigner(TrackingKeys.from_secret({"current": "k1", "k1": "first-secret"}))
    rotated = TokenSigner(TrackingKeys.from_secret({"current": "k2", "k1": "first-secret", "k2": "second"}))
    token = old.click(CLICK)
    assert rotated.verify_click(token) == CLICK
    assert rotated.click(CLICK).startswith("k2.")


def test_a_token_signed_with_another_secret_is_refused(signer):
    forger = TokenSigner(TrackingKeys.from_secret({"current": "k1", "k1": "attacker-guess"}))
    with pytest.raises(InvalidToken):
        signer.verify_click(forger.click(CLICK))


def test_keys_without_a_valid_current_id_are_a_configuration_error():
    with pytest.raises(ValueError):
        TrackingKeys.from_secret({"current": "k2", "k1": "secret"})


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.characters(codec="ascii"))
def test_any_single_character_change_is_refused(position, replacement):
    token = SIGNER.click(CLICK)
    index = position % len(token)
    tampered = token[:index] + replacement + token[index + 1 :]
    if tampered == token:
        return
    with pytest.raises(InvalidToken):
        SIGNER.verify_click(tampered)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_garbage_is_refused_and_never_crashes(garbage):
    with pytest.raises(InvalidToken):
        SIGNER.verify_click(garbage)


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(min_value=1, max_value=80))
def test_a_truncated_token_is_refused(cut):
    token = SIGNER.click(CLICK)
    with pytest.raises(InvalidToken):
        SIGNER.verify_click(token[: max(0, len(token) - cut)])


EXPIRES = 1_900_000_000


def test_a_confirm_token_round_trips_with_its_topics_and_address(signer):
    token = signer.verify_confirm(signer.confirm("p-0001", "ada@example.net", EXPIRES, ("travel", "cars")), 0)
    assert (token.profile_id, token.expires, token.topics) == ("p-0001", EXPIRES, ("travel", "cars"))
    assert signer.matches_address(token, "ada@example.net")
    assert not signer.matches_address(token, "eve@example.net")
    assert signer.verify_confirm(signer.confirm("p-0001", "ada@example.net", EXPIRES, None), 0).topics is None


def test_a_confirm_token_is_no_preferences_or_unsubscribe_token_and_the_other_way_round(signer):
    confirm = signer.confirm("p-0001", "ada@example.net", EXPIRES, None)
    for purpose in ("preferences", "unsubscribe", "open"):
        with pytest.raises(InvalidToken):
            signer.verify_message(purpose, confirm)
    preferences = signer.message("preferences", MessageToken(CLICK.message_id, "p-0001"))
    with pytest.raises(InvalidToken):
        signer.verify_message("unsubscribe", preferences)
    with pytest.raises(InvalidToken):
        signer.verify_confirm(preferences, 0)


@pytest.mark.parametrize("field, value", [(1, "p-0002"), (2, str(EXPIRES + 86400)), (3, "news"), (4, "A" * 11)])
def test_a_confirm_token_with_any_field_changed_is_refused(signer, field, value):
    parts = signer.confirm("p-0001", "ada@example.net", EXPIRES, ("travel",)).split(".")
    parts[field] = value
    with pytest.raises(InvalidToken):
        signer.verify_confirm(".".join(parts), 0)


def test_an_expired_confirm_token_is_refused(signer):
    with pytest.raises(InvalidToken, match="expired"):
        signer.verify_confirm(signer.confirm("p-0001", "ada@example.net", EXPIRES, None), EXPIRES + 1)


def test_a_campaign_mails_open_and_unsubscribe_tokens_carry_its_campaign_signed(signer):
    from closedloop.values import CampaignRef

    for ref in (CampaignRef("spring-sale", "main", "b"), CampaignRef("spring-sale", "reminder")):
        token = signer.message("open", MessageToken("m1", "p-0001", ref))
        assert signer.verify_message("open", token) == MessageToken("m1", "p-0001", ref)
        assert tokens.unverified_message(token).campaign == ref
        forged = token.replace("spring-sale", "other-sale")
        with pytest.raises(InvalidToken):
            signer.verify_message("open", forged)
    plain = signer.message("unsubscribe", MessageToken("m1", "p-0001"))
    assert plain.count(".") == 3 and signer.verify_message("unsubscribe", plain).campaign is None


def test_a_campaign_field_of_the_wrong_shape_is_malformed(signer):
    with pytest.raises(InvalidToken, match="malformed"):
        signer.verify_message("open", "k1.m1.p-0001.no-stage.sig")
