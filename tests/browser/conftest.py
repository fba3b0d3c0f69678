"""The console in a real browser: Debian's chromium, headless, driven by Playwright, against a real emulator.

- ``console_emulator``: an emulator process of this package's own (its own state directory), so the
  pages show only what these tests made.
- ``browser``: chromium for the session; ``page``: a fresh context per test, logged in through the
  console's link, whose dialogs are recorded
  (a dialog in an escaping test is an injected script that ran) and accepted (deletion confirmations).
- ``shoot``: a full-page screenshot into the artifacts folder (``$DOCKYARD_TEST_ARTIFACTS`` or
  ``tests/browser/artifacts``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.emulator.security import LocalCredentials
from tests.aws_fixtures import FAKE_KEY
from tests.emulator_fixtures import EmulatorProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The test emulators' secret is FAKE_KEY; the console's login link derives from it.
LOGIN = f"/console/?token={LocalCredentials('any', FAKE_KEY).console_token}"
ARTIFACTS = Path(os.environ.get("DOCKYARD_TEST_ARTIFACTS") or Path(__file__).parent / "artifacts")


@pytest.fixture(scope="module")
def console_emulator(tmp_path_factory: pytest.TempPathFactory, moto_server: str) -> Iterator[EmulatorProcess]:
    state_dir = tmp_path_factory.mktemp("console") / "state"
    # The tests' model archives are written under pytest's temporary directory: file:// model data there
    # must be allowed.
    process = EmulatorProcess(state_dir, moto_server, allow_paths=(tmp_path_factory.getbasetemp(),))
    # s3:// model data from the emulator's own S3 (where the console uploads), not from another endpoint.
    process.env.pop("DOCKYARD_S3_ENDPOINT_URL", None)
    process.start()
    yield process
    process.stop()
    from dockyard.emulator.sagemaker.reconciler import remove_fleet_containers

    remove_fleet_containers(state_dir)


# Package scope, not session: the sync API leaves an event loop running on the main thread until it
# stops, and asyncio.run() in every later test of the session would then refuse to start.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20_000)  # a page's live update, on a machine busy starting containers
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/browser.sh (apt chromium)", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Dialogs:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, dialog: Any) -> None:
        self.seen.append(f"{dialog.type}: {dialog.message}")
        dialog.accept()


@pytest.fixture
def dialogs() -> Dialogs:
    return Dialogs()


@pytest.fixture
def page(browser: Any, console_emulator: EmulatorProcess, dialogs: Dialogs) -> Iterator[Any]:
    context = browser.new_context(base_url=console_emulator.url, viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(20_000)
    opened = context.new_page()
    opened.goto(LOGIN)  # the link `dockyard emulator up` prints: sets the session cookie
    opened.on("dialog", dialogs)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    # A script or style the Content-Security-Policy blocked would be a page that silently half works.
    opened.on(
        "console",
        lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None,
    )
    yield opened
    context.close()
    assert not errors, f"the page raised JavaScript errors or CSP violations: {errors}"


@pytest.fixture(scope="session")
def shoot() -> Callable[[Any, str], Path]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = ARTIFACTS / f"console-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
