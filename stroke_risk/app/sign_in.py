"""Who may use the clinic app: sign-in beyond this machine, decided before any patient data.

The app holds the service's API key and staff type patient data into it, so serving it to a
network without sign-in would open both. As the API refuses to start without keys, the
app refuses to serve on a non-loopback address unless people sign in (Streamlit's own OIDC
login, ``st.login``, configured in ``.streamlit/secrets.toml``'s ``[auth]`` section), a
reverse proxy in front signs them in, or openness is asked for by name
(``STROKE_APP_SIGN_IN=open``). No Streamlit calls here: ``app/app.py`` acts on the answer.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from stroke_risk.core.config import Settings

LOOPBACK_NAMES = {"localhost"}


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'; False for a wildcard or an unset address,
    which Streamlit binds to every interface."""
    if not address:
        return False
    if address.strip().lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve beyond this machine


@dataclass(frozen=True)
class Access:
    """What the app must do before it shows anything: ask for sign-in, or refuse (why)."""

    login: bool = False
    refusal: str | None = None


def app_access(address: str | None, sign_in: str, has_oidc_settings: bool) -> Access:
    """The app's access rule for the address it serves on (``server.address``)."""
    if sign_in == "open" or sign_in == "proxy":
        return Access()
    if sign_in == "oidc" or (sign_in == "auto" and has_oidc_settings):
        if not has_oidc_settings:
            return Access(
                refusal="STROKE_APP_SIGN_IN is 'oidc' but .streamlit/secrets.toml has no "
                "[auth] section: add the identity provider's settings (see the clinic's "
                "guide, 'Sign-in and protecting the app')."
            )
        return Access(login=True)
    if is_loopback(address):
        return Access()
    where = address or "every network interface"
    return Access(
        refusal=f"This app serves on {where} without sign-in, so anyone who can reach it "
        "could see and enter patient data. Your IT contact can add sign-in (an [auth] "
        "section in .streamlit/secrets.toml), put a signing-in reverse proxy in front "
        "(STROKE_APP_SIGN_IN=proxy), serve on 127.0.0.1 only, or, on a trusted network, "
        "set STROKE_APP_SIGN_IN=open."
    )


def access_from_settings(address: str | None, has_oidc_settings: bool) -> Access:
    """:func:`app_access` with the setting read afresh from the environment."""
    return app_access(address, Settings().app_sign_in, has_oidc_settings)
