"""The small HTML pages a recipient sees on the public routes: one look, no external assets, no JavaScript.

Every dynamic value is escaped here; the pages carry a Content-Security-Policy (closedloop.http.html_page).
"""

from __future__ import annotations

from html import escape

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width"><title>{title}</title><style>
body{{font-family:system-ui,-apple-system,Helvetica,Arial,sans-serif;color:#18181b;background:#f4f4f5;margin:0}}
main{{max-width:32rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px}}
h1{{font-size:1.4rem;margin:0 0 1rem}} p{{line-height:1.5}}
label{{display:block;margin:1rem 0 .3rem}} input{{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box}}
button{{font-size:1rem;padding:.6rem 1.2rem;margin-top:1rem;background:#1d4ed8;color:#fff;border:0;border-radius:4px}}
button:focus,input:focus{{outline:3px solid #f59e0b;outline-offset:2px}}
fieldset{{border:1px solid #d4d4d8;border-radius:4px;margin:1rem 0;padding:.5rem 1rem}} legend{{padding:0 .3rem}}
label.check{{display:flex;gap:.6rem;align-items:center;margin:.6rem 0}} label.check input{{width:auto;margin:0}}
button.secondary{{background:#fff;color:#991b1b;border:2px solid #991b1b}} .note{{color:#52525b;font-size:.9rem}}
.hp{{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}} a{{color:#1d4ed8}}
a:focus{{outline:3px solid #f59e0b;outline-offset:2px}}
</style></head><body><main><h1>{title}</h1>{content}</main></body></html>"""


def page(title: str, content_html: str) -> str:
    """A page with an escaped title; `content_html` is already safe HTML."""
    return _PAGE.format(title=escape(title), content=content_html)


def invalid_link() -> str:
    return page(
        "This link does not work",
        "<p>The link is incomplete, has been changed, or has expired. "
        "If you copied it from an e-mail, please make sure you copied all of it.</p>",
    )


def unsubscribe_confirmation(action_url: str) -> str:
    return page(
        "Unsubscribe",
        f'<p>Do you want to stop receiving these e-mails?</p><form method="post" action="{escape(action_url)}">'
        '<button type="submit">Unsubscribe</button></form>',
    )


def unsubscribe_by_address(action_url: str) -> str:
    return page(
        "Unsubscribe",
        "<p>This link has expired. Type the address the e-mail was sent to, and we will stop sending to it.</p>"
        f'<form method="post" action="{escape(action_url)}"><label for="email">Your e-mail address</label>'
        '<input id="email" name="email" type="email" autocomplete="email" required>'
        '<button type="submit">Unsubscribe</button></form>',
    )


def unsubscribed() -> str:
    return page("You are unsubscribed", "<p>You will not receive these e-mails any more.</p>")


def unsubscribed_if_matching() -> str:
    return page(
        "Thank you",
        "<p>If that address is the one this e-mail was sent to, it will not receive these e-mails any more.</p>",
    )
