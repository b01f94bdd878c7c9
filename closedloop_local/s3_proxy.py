"""S3 on the local gateway: /_local/s3/<bucket>/<key> is moto's S3, so a presigned upload URL works from anywhere
the runtime's port is reachable (curl, the CLI), exactly as the cloud's would.

The runtime points the functions' S3 endpoint here (AWS_ENDPOINT_URL_S3), so the URLs they presign lead here
too. Requests are passed on to moto as they came, with two differences: moto's host, and a body sent as a form
(`curl --data-binary` does) is passed on as octet-stream, which moto would otherwise parse as a form and store empty.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from .http_messages import Reply, Request

if TYPE_CHECKING:
    from .gateway import Gateway

PREFIX = "/_local/s3"
MAX_BODY_BYTES = 512 * 1024 * 1024  # a single PUT; S3 itself takes 5 GB, a laptop's memory less
_NOT_PASSED = {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "expect"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def add(gateway: Gateway, moto_endpoint: str) -> None:
    def forward(request: Request, key: str) -> Reply:
        return _forward(moto_endpoint, request)

    for method in ("GET", "PUT", "POST", "DELETE", "HEAD"):
        gateway.add_local_route(method, f"{PREFIX}/{{key+}}", forward, max_body=MAX_BODY_BYTES)


def _forward(endpoint: str, request: Request) -> Reply:
    url = f"{endpoint}{request.path.removeprefix(PREFIX)}" + (f"?{request.raw_query}" if request.raw_query else "")
    headers = {name: value for name, value in request.headers if name.lower() not in _NOT_PASSED}
    for name in [n for n in headers if n.lower() == "content-type"]:
        if headers[name].lower().startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            headers[name] = "application/octet-stream"
    sent = urllib.request.Request(url, data=request.body if request.body else None, method=request.method)
    for name, value in headers.items():
        sent.add_header(name, value)
    try:
        with _OPENER.open(sent, timeout=60) as answer:
            return Reply(answer.status, answer.read(), _passed(answer.headers.items()))
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read(), _passed(error.headers.items()))


def _passed(headers) -> list[tuple[str, str]]:
    return [(name, value) for name, value in headers if name.lower() not in _NOT_PASSED]
