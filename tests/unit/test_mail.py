"""The raw MIME message as SES receives it: checked as bytes, not through a parser that would hide encodings."""

import email
import email.policy

import pytest

from closedloop.errors import HeaderInjection
from closedloop.mail import OutgoingMail

UNSUBSCRIBE = "<https://links.example.test/u/k1.AAAAAAAAAAAAAAAAAAAAAA.p-ada.XXXXXXXXXXXXXXXXXXXXXX>"
MAIL = OutgoingMail(
    message_id="m1",
    profile_id="p-ada",
    sender='"closedloop" <news@example.com>',
    to="ada@example.com",
    subject="Grüße, Ada",
    html="<p>Hi</p>",
    text="Hi",
    headers={"List-Unsubscribe": UNSUBSCRIBE, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    tags={"template": "birthday"},
)


def raw_headers(raw: bytes) -> dict[bytes, bytes]:
    head = raw.split(b"\r\n\r\n", 1)[0]
    return dict(line.split(b": ", 1) for line in head.split(b"\r\n") if b": " in line)


def test_list_unsubscribe_is_plain_ascii_in_the_raw_bytes_not_an_encoded_word(now):
    headers = raw_headers(MAIL.mime(now))
    assert headers[b"List-Unsubscribe"] == UNSUBSCRIBE.encode()
    assert headers[b"List-Unsubscribe-Post"] == b"List-Unsubscribe=One-Click"


def test_the_raw_message_has_both_parts_a_date_and_an_encoded_subject(now):
    raw = MAIL.mime(now)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert [part.get_content_type() for part in parsed.walk()][1:] == ["text/plain", "text/html"]
    assert parsed["Subject"] == "Grüße, Ada" and raw_headers(raw)[b"Subject"].startswith(b"=?utf-8?")
    assert parsed["Date"] == "Sun, 22 Nov 2026 10:00:00 +0000"
    assert parsed["From"].addresses[0].display_name == "closedloop"


@pytest.mark.parametrize("breaker", list("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029\x00"))
def test_every_character_the_email_package_splits_on_is_refused_in_headers(breaker):
    with pytest.raises(HeaderInjection):
        OutgoingMail("m1", "p", "news@example.com", "ada@example.com", f"Hi{breaker}Bcc: eve@x.org", "", "")
