"""Helpers of the alarms, commanding and stacks page tests."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def open_page(page: Page, name: str) -> None:
    """Show a console page by its hash route and wait for it to be mounted.

    Coming from the overview (where the shell lands after login), let its first poll end
    first (no request for 0.5 s): leaving it while it loads makes it raise an error toast
    (``overview: Cannot read properties of null``) that would show in the screenshots."""
    if page.locator("#page[data-page=overview]").count():
        expect(page.locator(".ov-grid > *").first).to_be_visible()
        page.wait_for_load_state("networkidle")
    page.goto(page.url.split("#")[0] + f"#/{name}")
    # the shell names the page on #page before it mounts it; mounted, it has content
    expect(page.locator(f"#page[data-page={name}] > *").first).to_be_visible()
