"""What one upstream call sends: its URL, and its headers with the credential filled in.

Built once per adapter (the static headers, where the credential goes) so that each call
only copies a dict and adds the key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from yarl import URL

from tokenhub.providers.base import CallOptions

API_KEY_PLACEHOLDER = "{api_key}"
"""In a configured header value, replaced by the call's credential (e.g. Azure ``api-key``)."""


def join_url(base: str, path: str) -> URL:
    """``base`` + ``path``, keeping a query of ``base`` (Azure's ``?api-version=``)."""
    url = URL(base)
    return url.with_path(url.path.rstrip("/") + path).with_query(url.query)


@dataclass(slots=True, frozen=True)
class Call:
    """What every attempt of one call shares: body, headers, credential and deadline."""

    body: bytes
    headers: dict[str, str]
    secret: str | None
    deadline: float
    first_byte_s: float | None = None
    """The executor's adaptive wait for the first byte (None: the provider's timeout)."""


class CallBuilder:
    """Makes each call's headers from the static ones and the call's credential."""

    def __init__(
        self, static: Mapping[str, str], auth_headers: Callable[[str], dict[str, str]]
    ) -> None:
        self._static = dict(static)
        self._auth_headers = auth_headers
        self._templated = any(API_KEY_PLACEHOLDER in v for v in static.values())

    def build(
        self, options: CallOptions, body: bytes = b"", vendor: Mapping[str, str] | None = None
    ) -> Call:
        """The call for ``options``: static, vendor and trace headers, then the credential.

        ``vendor`` are a same-format client's own (``anthropic-beta``...): they may replace a
        static default such as ``anthropic-version``, never the credential added after them.
        """
        headers = dict(self._static)
        if vendor:
            headers.update(vendor)
        if options.extra_headers:
            headers.update(options.extra_headers)  # trace headers; never the credential
        key = options.api_key
        if self._templated:
            for name, value in self._static.items():
                if API_KEY_PLACEHOLDER not in value:
                    continue
                if key:
                    headers[name] = value.replace(API_KEY_PLACEHOLDER, key)
                else:
                    del headers[name]  # no credential: no header rather than an empty one
        elif key:
            headers.update(self._auth_headers(key))
        return Call(body, headers, key, options.deadline, options.first_byte_s)
