"""The coordinator's worklist in Debian's Chromium, on the whole stack: she signs in, sees her patient
by personnummer, works the patient page, and a coordinator of another unit sees none of it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from reko.publish import publish_events
from tests.support import MAN, WOMAN, signed_event, wait_for_quiet

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CHROMIUM = Path("/usr/bin/chromium")
UNIT_NORTH = "SE2321000000-1001"
UNIT_SOUTH = "SE2321000000-1002"
COORDINATOR_NORTH = "SE2321000000-3001"
COORDINATOR_SOUTH = "SE2321000000-3002"
WOMAN_WRITTEN = f"{WOMAN[:8]}-{WOMAN[8:]}"
MAN_WRITTEN = f"{MAN[:8]}-{MAN[8:]}"


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright. Started only after the stack work: Playwright's sync API
    keeps an event loop running in this thread, where `asyncio.run` can then no longer start one."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium (/usr/bin/chromium) is not installed; `.ci/run` installs it, and the tests never download a browser")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        yield browser
        browser.close()


def sign_in(browser: Any, base_url: str, hsa_id: str, unit: str) -> Any:
    """The development sign-in of the local stack, as a person would use it."""
    page = browser.new_context().new_page()
    page.goto(f"{base_url}/worklist")
    assert page.get_by_role("heading", name="Logga in").is_visible()
    page.get_by_label("HSA-id", exact=True).fill(hsa_id)
    page.get_by_label("Roll").select_option("REHABKOORDINATOR")
    page.get_by_label("Vårdenheter (HSA-id, mellanslag emellan)").fill(unit)
    page.locator("form[action='/sign-in/development'] button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/worklist.*"))
    return page


def test_a_coordinator_works_her_worklist_in_a_browser_and_another_unit_sees_none_of_it(stack_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium (/usr/bin/chromium) is not installed; `.ci/run` installs it, and the tests never download a browser")
    stack = stack_factory(clock="fixed:2026-06-15T12:00:00+02:00")
    events = [
        signed_event(
            "ev-w1", "w1", person_id=WOMAN, periods=[("2026-03-02", "2026-07-31", 100)], signed_at="2026-03-02T09:00:00+01:00", care_unit=UNIT_NORTH
        ),
        signed_event(
            "ev-m1",
            "m1",
            person_id=MAN,
            periods=[("2026-04-01", "2026-08-31", 100)],
            signed_at="2026-04-01T09:00:00+02:00",
            care_unit=UNIT_SOUTH,
            diagnosis="M54.5",
        ),
    ]
    asyncio.run(publish_events(stack.bootstrap_servers, stack.topics.name(stack.topics.certificates), events))
    wait_for_quiet(stack)
    base_url = stack.services["notifications"].base_url
    with chromium() as browser:
        work_the_worklist(browser, base_url)


def work_the_worklist(browser: Any, base_url: str) -> None:
    page = sign_in(browser, base_url, COORDINATOR_NORTH, UNIT_NORTH)
    assert page.get_by_role("heading", name="Arbetslista").is_visible()
    assert WOMAN_WRITTEN in page.content()
    assert MAN_WRITTEN not in page.content()
    assert "Rehabiliteringskedjan dag 90" in page.content()
    # The risk's reasons are Swedish words with what matched, never the flag's English evidence.
    assert "psykiatrisk huvuddiagnos (F438A)" in page.content()
    assert "sjukskriven på heltid från början (100 %)" in page.content()
    assert "main diagnosis" not in page.content() and "first period" not in page.content()

    page.get_by_role("link", name=WOMAN_WRITTEN).click()
    page.wait_for_url(re.compile(r".*/patients/w1.*"))
    assert page.get_by_role("heading", name=WOMAN_WRITTEN).is_visible()

    page.get_by_label("Status").select_option("Kontaktad")
    page.get_by_role("button", name="Spara status").click()
    assert "REKO-statusen är sparad." in page.get_by_role("status").inner_text()

    # A trepartssamtal needs the patient's consent to contact with the employer: refused first.
    page.get_by_label("Typ").select_option("TREPARTSSAMTAL")
    page.get_by_label("Anteckning").fill("Möte med chefen om anpassade uppgifter")
    page.get_by_role("button", name="Spara kontakt").click()
    assert "arbetsgivaren" in page.get_by_role("alert").inner_text()

    page.get_by_label("Koordineringsinsatser").check()
    page.get_by_label("Kontakt med arbetsgivaren").check()
    page.get_by_label("Beslut").select_option("GIVEN")
    page.get_by_role("button", name="Registrera samtycke").click()
    assert "Samtycket är registrerat." in page.get_by_role("status").inner_text()

    page.get_by_label("Typ").select_option("TREPARTSSAMTAL")
    page.get_by_label("Anteckning").fill("Möte med chefen om anpassade uppgifter")
    page.get_by_role("button", name="Spara kontakt").click()
    assert "Kontakten är sparad." in page.get_by_role("status").inner_text()

    page.get_by_label("Mål").fill("Åter i arbete på halvtid i augusti")
    page.get_by_label("Nästa steg", exact=True).fill("Ring patienten")
    page.get_by_label("Datum", exact=True).last.fill("2026-06-10")
    page.get_by_role("button", name="Spara plan").click()
    assert "Planen är sparad." in page.get_by_role("status").inner_text()

    # The next step's date has passed: the periodic check raises its alert within seconds.
    for _ in range(40):
        if "Nästa steg i planen har passerat sitt datum" in page.content():
            break
        page.wait_for_timeout(500)
        page.reload()
    assert "Nästa steg i planen har passerat sitt datum" in page.content()
    timeline = page.locator("ol.timeline").inner_text()
    assert "Trepartssamtal" in timeline
    assert "Kontaktad" in timeline

    before = page.locator("form[action$='/handled']").count()
    page.locator("form[action$='/handled'] button").first.click()
    assert "Larmet är markerat som hanterat." in page.get_by_role("status").inner_text()
    assert page.locator("span.tag.HANDLED").count() == 1
    assert page.locator("form[action$='/handled']").count() == before

    other = sign_in(browser, base_url, COORDINATOR_SOUTH, UNIT_SOUTH)
    assert WOMAN_WRITTEN not in other.content()
    assert MAN_WRITTEN in other.content()
    other.goto(f"{base_url}/patients/w1")
    assert "Sidan kan inte visas" in other.content()
    assert WOMAN_WRITTEN not in other.content()
