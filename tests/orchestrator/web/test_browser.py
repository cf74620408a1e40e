"""The web interface end to end: Debian's Chromium, driven headless by Playwright, through the
real stack (Redis, Prefect, the engine, a node running the model). A clerk files a request in
French and one in Arabic and watches them complete without reloading; a supervisor corrects a
draft, sees the change as a diff, and approves; an auditor finds the case's events and
verifies the chain; ops drain a node. Each role's main page is photographed in French and in
Arabic at 1280x800 (into IDARA_SCREENSHOTS_DIR when set: docs/screenshots is made so)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from rich.console import Console
from sqlmodel import Session

from orchestrator.auth import users
from orchestrator.db import make_engine
from orchestrator.stack import Stack, start_stack
from tests.conftest import stack_settings
from workers.settings import SEEDS_DIR

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "correct horse battery"
PEOPLE = ("amina", "youssef", "omar", "nadia")
CASE_WAIT_MS = 300_000
"""A case's three agent steps on the 2-core CI machine take well under a minute; the margin
covers a slow first model load."""
LOOPBACK_ONLY = ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
"""Chromium resolves no name but the stack's address: a page, or Chromium itself, that tried
another host would fail (Playwright already turns off its background networking)."""
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 768, "height": 1024}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = stack_settings(tmp_path_factory.mktemp("stack-ui"))
    started = start_stack(settings, ["smollm2-135m"], Console(quiet=True))
    try:
        engine = make_engine(settings.effective_database_url)
        with Session(engine) as session:
            for name in PEOPLE:
                users.set_password(session, name, PASSWORD, "test")
            session.commit()
        engine.dispose()
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LOOPBACK_ONLY
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("IDARA_SCREENSHOTS_DIR")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def person(chromium: Browser, stack: Stack, **options: Any) -> BrowserContext:
    """A browser of its own (its own cookies), asking for French, at 1280x800."""
    context = chromium.new_context(
        base_url=stack.settings.api_base_url,
        locale="fr-FR",
        viewport=options.pop("viewport", DESKTOP),
        **options,
    )
    context.set_default_timeout(20_000)
    return context


def sign_in(page: Page, name: str) -> None:
    """By keyboard only: the name field has the focus, Tab to the password, Enter."""
    page.goto("/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login\?next="))
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("header .who")).to_be_visible()


def choose_language(page: Page, code: str) -> None:
    page.select_option("#language", code)
    expect(page.locator("html")).to_have_attribute("lang", code)
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if code == "ar" else "ltr")


def photograph(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=folder / f"{name}.png", full_page=False)


def file_request(page: Page, sample: str) -> str:
    """File a seed request through the form; returns the case's reference."""
    request = json.loads((SEEDS_DIR / "requests" / sample).read_text(encoding="utf-8"))
    page.goto("/ui/cases/new")
    page.select_option("#procedure-choice", request["procedure"])
    expect(page.locator("#text")).to_be_visible()
    for name, value in request["applicant"].items():
        page.fill(f"#applicant-{name}", value)
    page.fill("#text", request["text"])
    page.select_option("#request-language", request["language"])
    page.locator("form.card button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/ui/cases/[0-9a-f-]{36}$"))
    reference = page.locator("h1 span").inner_text()
    assert reference.startswith("IDR-")
    return reference


def status_of(page: Page) -> Any:
    return page.locator("#case-live .summary dd .badge").first


def no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_clerk_supervisor_auditor_and_ops_in_french_and_arabic(
    stack: Stack, chromium: Browser, screenshots: Path
) -> None:
    clerk = person(chromium, stack).new_page()
    sign_in(clerk, "amina")
    expect(clerk.locator("h1")).to_have_text("Dossiers")
    french = file_request(clerk, "01-fr-birth-certificate.json")
    french_url = clerk.url
    choose_language(clerk, "ar")
    arabic = file_request(clerk, "02-ar-building-permit.json")
    arabic_url = clerk.url
    # The page moves on by itself: no reload from here until the case waits for a person.
    expect(status_of(clerk)).to_have_text("في انتظار الموافقة", timeout=CASE_WAIT_MS)
    clerk.goto("/ui/cases")
    photograph(clerk, screenshots, "clerk-cases-ar")
    choose_language(clerk, "fr")
    clerk.goto(french_url)
    expect(status_of(clerk)).to_have_text("En attente de validation", timeout=CASE_WAIT_MS)
    clerk.goto("/ui/cases")
    expect(clerk.locator("#case-list")).to_contain_text(french)
    photograph(clerk, screenshots, "clerk-cases-fr")

    supervisor = person(chromium, stack).new_page()
    sign_in(supervisor, "youssef")
    inbox = supervisor.locator("#approval-list")
    expect(inbox).to_contain_text(french)
    expect(inbox).to_contain_text(arabic)
    photograph(supervisor, screenshots, "supervisor-approvals-fr")
    choose_language(supervisor, "ar")
    photograph(supervisor, screenshots, "supervisor-approvals-ar")
    choose_language(supervisor, "fr")
    supervisor.get_by_role("link", name=french).click()
    letter = supervisor.locator("#edit-letter")
    added = "Votre dossier sera traité sous quinze jours."
    text, closing = letter.input_value(), "Veuillez agréer"
    before = closing if closing in text else text.rstrip()[-20:]
    letter.fill(text.replace(before, f"{added}\n\n{before}", 1))
    supervisor.get_by_role("button", name="Voir mes corrections").click()
    expect(supervisor.locator("#changes ins")).to_contain_text("quinze jours")
    supervisor.locator("#changes").scroll_into_view_if_needed()
    photograph(supervisor, screenshots, "supervisor-edit-diff-fr")
    supervisor.get_by_role("button", name="Approuver avec mes corrections").click()
    expect(supervisor.locator(".summary")).to_contain_text("Corrigé et approuvé")
    expect(supervisor.locator("#changes ins")).to_contain_text("quinze jours")
    supervisor.goto("/ui/approvals")
    supervisor.get_by_role("link", name=arabic).click()
    supervisor.get_by_role("button", name="Approuver", exact=True).click()
    expect(supervisor.locator(".summary")).to_contain_text("Approuvé")

    clerk.goto(french_url)
    expect(status_of(clerk)).to_have_text("Terminé", timeout=CASE_WAIT_MS)
    expect(clerk.locator("#case-live")).to_contain_text(added)
    expect(clerk.locator("#case-live")).to_contain_text("corrigé par le superviseur")
    photograph(clerk, screenshots, "clerk-case-fr")
    with clerk.expect_download() as download:
        clerk.get_by_role("link", name="Télécharger le PDF").click()
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    choose_language(clerk, "ar")
    clerk.goto(arabic_url)
    expect(status_of(clerk)).to_have_text("مكتمل", timeout=CASE_WAIT_MS)
    expect(clerk.get_by_role("link", name="تنزيل ملف PDF")).to_be_visible()
    on_tablet = person(chromium, stack, viewport=TABLET).new_page()
    sign_in(on_tablet, "amina")
    for path in ("/ui/cases", arabic_url):
        on_tablet.goto(path)
        assert no_horizontal_scroll(on_tablet), path
    choose_language(clerk, "fr")

    auditor = person(chromium, stack).new_page()
    sign_in(auditor, "omar")
    auditor.fill("#f-case", french)
    auditor.press("#f-case", "Enter")
    events = auditor.locator("table.events")
    expect(events).to_contain_text("case.created")
    expect(events).to_contain_text("approval.decided")
    expect(events).to_contain_text("step.finished")
    auditor.get_by_role("button", name="Vérifier toute la chaîne maintenant").click()
    expect(auditor.locator("#verify-result")).to_contain_text("Vérifié")
    photograph(auditor, screenshots, "auditor-audit-fr")
    choose_language(auditor, "ar")
    expect(auditor).to_have_url(re.compile(r"/ui/audit$"))
    auditor.get_by_role("button", name="التحقق من السلسلة كاملة الآن").click()
    expect(auditor.locator("#verify-result")).to_contain_text("تم التحقق")
    photograph(auditor, screenshots, "auditor-audit-ar")
    auditor.goto(f"/ui/audit/cases/{french}")
    expect(auditor.locator("ol.timeline")).to_contain_text("approval.decided")

    ops = person(chromium, stack).new_page()
    sign_in(ops, "nadia")
    row = ops.locator("#node-node-a")
    expect(row).to_contain_text("Prêt")
    photograph(ops, screenshots, "ops-nodes-fr")
    ops.get_by_role("button", name="Vider node-a").click()
    expect(ops.locator("#node-node-a")).to_contain_text("Vidé")
    ops.get_by_role("button", name="Réactiver node-a").click()
    expect(ops.locator("#node-node-a")).to_contain_text("Prêt")
    choose_language(ops, "ar")
    photograph(ops, screenshots, "ops-nodes-ar")
    for page in (clerk, supervisor, auditor, ops):
        assert no_horizontal_scroll(page), page.url
