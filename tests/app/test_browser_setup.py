"""Without Chromium the browser tests skip locally, with instructions, but fail on CI."""

from __future__ import annotations

import pytest

from tests.app import conftest


@pytest.fixture
def no_chromium(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "CHROMIUM", tmp_path / "no-chromium-here")


def test_a_missing_browser_skips_locally_and_says_how_to_install_it(no_chromium, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"make system-deps.*apt-get install chromium"):
        conftest.require_browser()


def test_a_missing_browser_fails_on_ci(no_chromium, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and Chromium is not installed"):
        conftest.require_browser()
