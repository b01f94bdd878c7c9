"""The outbox as a page to read and click through: newest first, filtered by recipient and template.

Looking must not count as an open. Each mail is shown with its open pixel's URL replaced by a blank image, and the
page is sent with a Content-Security-Policy that lets images come only from data: and https: URLs, so a pixel the
rewrite missed (the local runtime serves http) still does not load; the mail frames inherit that policy.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlencode

from infra import wiring

# Images from data: (the blank stand-in) and https: only; no scripts, plugins or frames other than the mails'.
CONTENT_SECURITY_POLICY = "img-src data: https:; script-src 'none'; object-src 'none'"
BLANK_IMAGE = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
_OPEN_PIXEL = re.compile(
    r"https?://[^\s\"'<>()]+?(?:"
    + "|".join(re.escape(route.path.split("{")[0]) for route in wiring.OPEN.routes)
    + r")[A-Za-z0-9._~%-]+"
)


def without_open_pixels(body: str) -> str:
    """The HTML with every open-pixel URL (wherever it stands: src, background, CSS) replaced by a blank image."""
    return _OPEN_PIXEL.sub(BLANK_IMAGE, body)


def page(
    entries: list[dict],
    *,
    templates: list[str],
    to: str | None = None,
    template: str | None = None,
    links: dict[str, str] | None = None,
) -> str:
    """A page listing `entries` (oldest first, as the JSON outbox gives them) newest first, with a filter form."""
    rows = [_message(number, entry) for number, entry in reversed(list(enumerate(entries, 1)))]
    nav = " &middot; ".join(f'<a href="{html.escape(u)}">{html.escape(t)}</a>' for t, u in (links or {}).items())
    options = "".join(
        f'<option value="{html.escape(name)}"{" selected" if name == template else ""}>{html.escape(name)}</option>'
        for name in templates
    )
    shown = f"{len(entries)} message(s)" + (" matching the filter" if to or template else "")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>closedloop outbox</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 60rem; }}
section {{ border-top: 1px solid #ccc; padding: 1rem 0; }}
iframe {{ width: 100%; height: 28rem; border: 1px solid #ddd; }}
h2 {{ font-size: 1.1rem; margin: 0 0 .3rem; }}
form {{ margin: 1rem 0; }}
</style></head>
<body><h1>closedloop outbox</h1>
<p>{nav}</p>
<form method="get" action="/_local/outbox.html">
<label>to <input name="to" type="email" value="{html.escape(to or "")}" placeholder="any recipient"></label>
<label>template <select name="template"><option value="">any</option>{options}</select></label>
<button>filter</button> <a href="/_local/outbox.html">all</a>
</form>
<p>{shown}, newest first. Viewing records no opens: the open pixel is not loaded here. Clicking a link in a
mail does record a click, as it would in an inbox.</p>
{"".join(rows) or "<p>Nothing sent yet.</p>"}
</body></html>"""


def _message(number: int, entry: dict) -> str:
    body = without_open_pixels(entry["html"] or f"<pre>{html.escape(entry['text'] or '')}</pre>")
    # target=_blank so a click leaves the outbox page; allow-popups lets the sandboxed frame open it.
    body = "<base target='_blank'>" + body
    headers = "\n".join(f"{k}: {v}" for k, v in entry["headers"].items())
    eml = f"/_local/outbox/{quote(entry['message_id'], safe='')}.eml"
    by_recipient = "/_local/outbox.html?" + urlencode({"to": entry["to"][0]}) if entry["to"] else None
    recipients = html.escape(", ".join(entry["to"]))
    if by_recipient:
        recipients = f'<a href="{html.escape(by_recipient)}">{recipients}</a>'
    return f"""<section id="m{number}">
<h2>{number}. {html.escape(entry["subject"])}</h2>
<p><b>to</b> {recipients} &middot; <b>sent</b> {html.escape(entry["sent_at"] or "?")}
&middot; <b>template</b> {html.escape(entry["template"] or "?")}
&middot; <b>id</b> <code>{html.escape(entry["message_id"])}</code>
&middot; <a href="{html.escape(eml)}" download>download .eml</a></p>
<details><summary>headers</summary><pre>{html.escape(headers)}</pre></details>
<details><summary>text part</summary><pre>{html.escape(without_open_pixels(entry["text"] or ""))}</pre></details>
<iframe sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="{html.escape(body, quote=True)}"></iframe>
</section>"""
