"""The browser fixtures (live server over a small demo, Debian's Chromium) for the CSP test."""

from tests.browser.conftest import browser, open_page, shoot, site  # noqa: F401
