"""Finding the headless browser: a developer without Chromium gets the reason and the fix."""
import shutil

import pytest

from sarl_ros.console import browser

pytest.importorskip('selenium', reason='selenium is in requirements/python.txt: run ./sarl test')


def test_missing_chromium_is_named_with_the_install_command(monkeypatch):
    monkeypatch.setattr(shutil, 'which', lambda name: None)
    assert browser.missing_browser() == 'Chromium is not installed (sudo apt-get install chromium chromium-driver)'


def test_missing_driver_is_named(monkeypatch):
    monkeypatch.setattr(shutil, 'which', lambda name: '/usr/bin/chromium' if name == 'chromium' else None)
    assert browser.missing_browser() == 'chromedriver is not installed (sudo apt-get install chromium-driver)'
