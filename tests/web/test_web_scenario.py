"""The COP page in Debian's Chromium against a server replaying a real scenario run:
one SRBM from Wonsan (built-in korea-japan), simulated, tracked, fused and warned by the
real nodes with the hub's warning rules, recorded, then served as `trilink serve` does.
It is srbm-3, which falls 8 km outside Korea's approximated zone (on the DPRK's side of
the median line) and far from U.S. territory: its 95 % ellipse reaches Korea's zone ~17 s
after the first track (a "possible" threat), so Korea's page must show the red missile
warning, the U.S. page must not. (srbm-1, used until the zones had median lines, falls
47 km outside Korea's zone now: a launch notice only.)"""

from __future__ import annotations

import dataclasses

import playwright.sync_api as playwright_sync
import pytest
from web_browser import ServerThread, launch

from trilink.link import Keyring
from trilink.nodes.simrun import RunConfig, run_simulation
from trilink.nodes.warnings import make_warner
from trilink.scenario import load_scenario
from trilink.scenario.simulate import simulate
from trilink.web import ReplayFeed

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    sc = load_scenario("korea-japan")
    srbm3 = tuple(x for x in sc.launches if x.id == "srbm-3")  # launched at 100 s
    sc = dataclasses.replace(sc, launches=srbm3, duration_s=200.0)
    sim = simulate(sc)
    run_simulation(sc, sim, RunConfig(record_dir=out), warner_factory=make_warner)
    return out


def _wait(page, expr: str, timeout_s: float) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expr):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expr}")
        time.sleep(0.1)


def test_replayed_scenario_warns_korea_and_not_the_us(recording) -> None:
    keyring = Keyring.load(recording / "keyring.json")
    srv = ServerThread(
        lambda: ReplayFeed(recording / "messages.tlog", 10.0, keyring=keyring), ["KOR", "USA"]
    )
    try:
        with playwright_sync.sync_playwright() as pw:
            browser = launch(pw)
            pages, problems = {}, {}
            for p in ("KOR", "USA"):
                page = browser.new_page(viewport={"width": 1400, "height": 850})
                problems[p] = []
                page.on("pageerror", lambda e, p=p: problems[p].append(str(e)))
                page.on(
                    "console",
                    lambda m, p=p: problems[p].append(m.text) if m.type == "error" else None,
                )
                page.goto(f"{srv.url}/p/{p}")
                pages[p] = page
            for page in pages.values():
                _wait(page, "document.querySelectorAll('#tracks tbody tr').length >= 1", 60)
            _wait(
                pages["KOR"],
                "document.getElementById('banner').innerText.includes('MISSILE WARNING')",
                60,
            )
            assert "MISSILE WARNING" not in pages["USA"].inner_text("#banner")
            assert problems == {"KOR": [], "USA": []}
            browser.close()
    finally:
        srv.close()
