"""Screenshots of the iSendPro "Add Connection" form in the Airflow UI, for the docs.

Not part of ``make e2e``: it needs Chromium and Playwright, which the project does not depend on. It starts
the same deployment as ``make e2e`` (PostgreSQL, emulator, scheduler, dag-processor, triggerer, API
server), opens the UI in headless Chromium with the admin's JWT as the session cookie, clicks "Add
Connection", picks "iSendPro SMS" and saves two screenshots (the form's standard fields, then its extra
fields; the UI shows one section at a time). To redo them::

    apt-get install -y chromium
    python3 -m venv /tmp/shot && /tmp/shot/bin/pip install playwright   # no browser download needed
    .venv/bin/python e2e/screenshot.py --browser-python /tmp/shot/bin/python

The project's interpreter runs the deployment; ``--browser-python`` runs this same file again with
``--shoot`` to drive the browser.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: Chromium on a machine without a network or a display (see the machine notes).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUTS = ("connection-form.png", "connection-form-extra.png")


def shoot(url: str, token: str, out_dir: Path, chromium: str) -> None:
    """Drive the UI (runs under the interpreter that has Playwright)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1300})
            context.add_cookies([{"name": "_token", "value": token, "url": url}])
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{url}/connections", wait_until="networkidle")
            page.get_by_role("button", name="Add Connection").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_role("textbox").first.fill("isendpro_default")
            dialog.get_by_role("combobox").first.focus()
            page.keyboard.type("iSendPro")
            page.keyboard.press("Enter")
            dialog.get_by_text("API key (keyid)").wait_for()
            page.wait_for_timeout(500)  # let the accordion finish opening
            dialog.screenshot(path=str(out_dir / OUTPUTS[0]))
            dialog.get_by_role("button", name="Extra Fields", exact=True).click()
            dialog.get_by_text("Default sender (emetteur)").wait_for()
            page.wait_for_timeout(500)
            dialog.screenshot(path=str(out_dir / OUTPUTS[1]))
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="e2e/screenshot.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--browser-python", help="a Python interpreter with Playwright installed")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs"))
    parser.add_argument("--shoot", metavar="URL", help=argparse.SUPPRESS)  # internal: browser side
    args = parser.parse_args(argv)
    out_dir = Path(args.out).resolve()

    if args.shoot:
        shoot(args.shoot, os.environ["E2E_UI_TOKEN"], out_dir, args.chromium)
        return 0
    if not args.browser_python:
        parser.error("--browser-python is required (see the module docstring)")

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import Deployment, say  # the same deployment as make e2e

    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="isendpro-e2e-shot-"))
    deployment = Deployment(work, Path(__file__).resolve().parent.parent / "dags_examples")
    try:
        deployment.start()
        assert deployment.api is not None
        token = deployment.api.http.headers["Authorization"].removeprefix("Bearer ")
        say("== screenshots")
        argv = [args.browser_python, __file__, "--shoot", deployment.api.base]
        argv += ["--out", str(out_dir), "--chromium", args.chromium]
        subprocess.run(  # noqa: S603 (fixed argv: the given interpreter and this file)
            argv,
            env={**os.environ, "E2E_UI_TOKEN": token},
            timeout=180,
            check=True,
        )
        for name in OUTPUTS:
            say(f"   {out_dir / name}")
    finally:
        deployment.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
