"""Sign-in for the app beyond this machine: refused without it unless asked for by name,
as the API refuses to start without keys."""

from __future__ import annotations

import pytest

from stroke_risk.app.sign_in import Access, app_access, is_loopback
from tests.app.test_app import texts


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_addresses_are_this_machine(address):
    assert is_loopback(address)


@pytest.mark.parametrize("address", [None, "", "0.0.0.0", "::", "192.168.1.20", "clinic-pc"])
def test_wildcards_network_addresses_and_names_are_not(address):
    assert not is_loopback(address)


def test_on_loopback_the_app_serves_without_sign_in():
    assert app_access("127.0.0.1", "auto", has_oidc_settings=False) == Access()


@pytest.mark.parametrize("address", [None, "0.0.0.0", "10.0.0.5"])
def test_beyond_loopback_without_sign_in_the_app_refuses_and_says_how_to_fix_it(address):
    access = app_access(address, "auto", has_oidc_settings=False)
    assert access.refusal is not None and not access.login
    for way_out in ("[auth]", "STROKE_APP_SIGN_IN=proxy", "127.0.0.1", "STROKE_APP_SIGN_IN=open"):
        assert way_out in access.refusal


def test_with_oidc_settings_people_sign_in_wherever_it_serves():
    assert app_access("0.0.0.0", "auto", has_oidc_settings=True) == Access(login=True)
    assert app_access("127.0.0.1", "oidc", has_oidc_settings=True) == Access(login=True)


def test_oidc_asked_for_without_its_settings_is_refused_naming_the_section():
    access = app_access("127.0.0.1", "oidc", has_oidc_settings=False)
    assert access.refusal is not None and "[auth]" in access.refusal


@pytest.mark.parametrize("sign_in", ["proxy", "open"])
def test_a_proxy_or_explicit_openness_serves_beyond_loopback(sign_in):
    assert app_access("0.0.0.0", sign_in, has_oidc_settings=False) == Access()


def test_the_app_on_every_interface_shows_the_refusal_and_no_form(app, closed_port_url):
    at = app(closed_port_url, address="0.0.0.0")
    assert not at.exception
    assert "without sign-in" in texts(at.error)
    assert not at.number_input and not at.radio  # no patient form, no unit choice


def test_the_app_on_every_interface_serves_when_openness_is_asked_for(
    app, closed_port_url, monkeypatch
):
    monkeypatch.setenv("STROKE_APP_SIGN_IN", "open")
    at = app(closed_port_url, address="0.0.0.0")
    assert not at.error
    assert at.number_input(key="patient.age").label == "Age (years)"
