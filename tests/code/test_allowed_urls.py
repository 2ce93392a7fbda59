"""The FHIR-server allow list matches parsed URLs (scheme, host, port, whole path
segments), never string prefixes, and refuses what URL parsers read differently."""

from __future__ import annotations

import pytest

from stroke_risk.core.allowed_urls import allowed_bases, is_allowed, parse_base
from stroke_risk.core.config import Settings

BASES = allowed_bases(["http://127.0.0.1:3931", "https://fhir.example.org/r4"])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:3931",
        "http://127.0.0.1:3931/",
        "http://127.0.0.1:3931/fhir/Observation?patient=p1&code=2345-7",
        "https://fhir.example.org/r4",
        "https://fhir.example.org:443/r4/Patient/p1",
        "https://FHIR.example.org/r4/Patient/p1",  # host names are case-insensitive
    ],
)
def test_urls_under_an_allowed_base_pass(url: str) -> None:
    assert is_allowed(url, BASES)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:39310/fhir",  # a longer port: passed the string prefix
        "http://127.0.0.1:3931@127.0.0.1:3932/fhir",  # user information: goes to 3932
        "https://fhir.example.org.evil.net/r4",  # a longer host name
        "https://fhir.example.org/r4x/Patient/p1",  # a longer path segment
        "https://fhir.example.org/r5",
        "http://fhir.example.org/r4",  # another scheme
        "https://fhir.example.org:8443/r4",  # another port
        "https://fhir.example.org/r4/../admin",  # a dot segment
        "https://fhir.example.org/r4/%2e%2e/admin",  # the same, percent-encoded
        "https://fhir.example.org/r4\\@evil.net/",  # a backslash
        "https://fhir%2eexample.org/r4",  # a percent-encoded host
        "https://fhir.example.org/r4#fragment",
        "ftp://fhir.example.org/r4",
        "https://fhir.example.org:99999/r4",  # no such port
        "not a url",
        "",
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    assert not is_allowed(url, BASES)


def test_a_setting_that_is_not_a_base_url_stops_the_service_naming_it() -> None:
    with pytest.raises(ValueError, match="https://user@fhir.example.org"):
        Settings(cds_fhir_servers=["https://user@fhir.example.org"])


def test_a_base_is_its_scheme_host_port_and_segments() -> None:
    base = parse_base("https://fhir.example.org/r4/")
    assert base is not None
    assert (base.scheme, base.host, base.port, base.segments) == (
        "https",
        "fhir.example.org",
        443,
        ("r4",),
    )
