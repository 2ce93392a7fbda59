"""Which URLs the service may send an EHR's access token to (OWASP's SSRF advice).

In core because the settings check the allow list (STROKE_CDS_FHIR_SERVERS) when they
are read, and the EHR routes check every URL against it. A URL is parsed, never compared
as a string: it must have the scheme, host and port of an allowed base and lie under its
path, whole segment by whole segment. So with the base
``http://127.0.0.1:3931`` neither ``http://127.0.0.1:39310/fhir`` (another port) nor
``http://127.0.0.1:3931@127.0.0.1:3932/fhir`` (user information: the request would go
to port 3932) passes, nor ``https://fhir.example.org.evil.net`` for
``https://fhir.example.org``. Anything that URL parsers read differently (user
information, backslashes, percent-encoded host names, ``.``/``..`` segments, control
characters) is refused outright rather than interpreted.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters no URL this service follows needs, and that parsers disagree about.
_AMBIGUOUS = frozenset("\\@%") | frozenset(chr(code) for code in range(33))


@dataclass(frozen=True)
class Base:
    """An allowed base URL, parsed: requests may go to its path and below."""

    scheme: str
    host: str
    port: int
    segments: tuple[str, ...]

    def contains(self, url: str) -> bool:
        """Whether ``url`` (absolute) is this base or lies under it."""
        other = parse_base(url, allow_query=True)
        return (
            other is not None
            and (other.scheme, other.host, other.port) == (self.scheme, self.host, self.port)
            and other.segments[: len(self.segments)] == self.segments
        )


def parse_base(url: str, allow_query: bool = False) -> Base | None:
    """``url`` as a :class:`Base`, or None when it is not an unambiguous http(s) URL."""
    if not isinstance(url, str) or len(url) > 2048 or not url.isascii():
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.fragment:
        return None
    if (parts.query and not allow_query) or _AMBIGUOUS & set(parts.netloc):
        return None
    if (_AMBIGUOUS - {"%"}) & set(parts.path):
        return None
    segments = tuple(unquote(segment) for segment in parts.path.split("/") if segment)
    if any(segment in (".", "..") or "/" in segment or "\\" in segment for segment in segments):
        return None
    return Base(parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme], segments)


def allowed_bases(urls: list[str]) -> list[Base]:
    """The configured allow list, parsed; a ValueError names an entry that is not a base."""
    bases = []
    for url in urls:
        base = parse_base(url)
        if base is None:
            raise ValueError(
                f"'{url}' is not an http(s) base URL without user information, query or "
                "fragment (e.g. https://fhir.example.org/r4)"
            )
        bases.append(base)
    return bases


def is_allowed(url: str, bases: list[Base]) -> bool:
    """Whether the absolute ``url`` lies under one of ``bases``."""
    return any(base.contains(url) for base in bases)
