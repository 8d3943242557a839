"""Headless Chromium for the console's browser test and screenshot (selenium; a developer tool).

Chromium and its driver come from Debian (`apt-get install chromium chromium-driver`, done by
scripts/install_browser.sh); selenium from requirements/python.txt.
"""
from __future__ import annotations

import shutil

CHROMIUM_NAMES = ('chromium', 'chromium-browser', 'google-chrome')
DRIVER_NAMES = ('chromedriver',)


def missing_browser() -> str | None:
    """Return why a headless browser cannot run here, or None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return 'selenium is not installed (requirements/python.txt)'
    if not any(shutil.which(n) for n in CHROMIUM_NAMES):
        return 'Chromium is not installed (sudo apt-get install chromium chromium-driver)'
    if not any(shutil.which(n) for n in DRIVER_NAMES):
        return 'chromedriver is not installed (sudo apt-get install chromium-driver)'
    return None


def headless_chromium(width: int = 1280, height: int = 900):
    """Return a selenium WebDriver for a headless Chromium window of this size."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(shutil.which(n) for n in CHROMIUM_NAMES if shutil.which(n))
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                '--disable-extensions', '--no-first-run', f'--window-size={width},{height}'):
        options.add_argument(arg)
    service = Service(executable_path=next(shutil.which(n) for n in DRIVER_NAMES if shutil.which(n)))
    return webdriver.Chrome(service=service, options=options)
