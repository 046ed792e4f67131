"""`seqlab serve`'s web page in a real browser: Playwright driving Debian's chromium.

The server runs in a thread on a free loopback port; the page is used as a person would,
with the keyboard where it matters. `make test` installs chromium (apt); without a chromium
binary these tests skip and say so.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time

import pytest

pytest.importorskip(
    "fastapi", reason="the serve tests need the serve extra: pip install -e '.[dev]'"
)
pytest.importorskip(
    "uvicorn", reason="the serve tests need the serve extra: pip install -e '.[dev]'"
)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the browser tests need playwright: pip install -e '.[dev]'"
)

import uvicorn  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

from _tiny_transformer import tiny_transformer_run  # noqa: E402
from seqlab.serve import create_app  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium binary on PATH; `make test` installs Debian's (apt-get install chromium)",
)


@pytest.fixture(scope="module")
def server(serve_runs, tmp_path_factory):
    tf = tiny_transformer_run(tmp_path_factory.mktemp("browser") / "tf")
    paths = [serve_runs["demo"], serve_runs["nz"], serve_runs["vectors"], tf]
    app = create_app(paths)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start within 30 s")
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    problems: list[str] = []
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    # An API answer of 4xx is logged by the browser too; those are expected in the tests.
    pg.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    pg.goto(server + "/")
    pg.wait_for_selector("#classify-model option", state="attached")
    yield pg
    context.close()
    assert problems == []  # no script error, nothing blocked by the page's CSP


def test_serve_browser_classify_shows_label_and_coloured_words(page, tmp_path):
    page.select_option("#classify-model", "bow")
    page.fill("#classify-text", "A wonderful, moving film with a terrific cast but a dull plot")
    page.press("#classify-text", "Enter")  # Enter submits
    page.wait_for_selector("#classify-result:not([hidden]) .tok")
    assert page.inner_text("#classify-label") in ("neg", "pos")
    assert "probability" in page.inner_text("#classify-prob")
    words = page.locator("#classify-tokens .tok")
    assert words.all_inner_texts()[:3] == ["a", "wonderful", "moving"]
    colours = [
        page.evaluate("el => getComputedStyle(el).backgroundColor", h)
        for h in words.element_handles()
    ]
    coloured = [c for c in colours if c not in ("rgba(0, 0, 0, 0)", "transparent")]
    assert len(coloured) >= 3  # the words that mattered are highlighted
    assert any(
        c.startswith("rgba(22, 140, 70") or c.startswith("rgba(205, 40, 40") for c in coloured
    )
    page.screenshot(path=str(tmp_path / "classify.png"), full_page=True)
    assert (tmp_path / "classify.png").stat().st_size > 10_000


def test_serve_browser_transformer_run_shows_an_attention_heat_map(page, tmp_path):
    page.select_option("#classify-model", "tf")
    page.fill("#classify-text", "a wonderful, moving film")
    page.press("#classify-text", "Enter")
    page.wait_for_selector("#classify-attention:not([hidden]) #attention-table td")
    words = ["a", "wonderful", "moving", "film"]
    assert page.locator("#attention-table th.key").all_inner_texts() == words
    assert page.locator("#attention-table tbody th").all_inner_texts() == words
    cells = page.locator("#attention-table td")
    assert cells.count() == 16
    titles = [cells.nth(i).get_attribute("title") for i in range(4)]
    assert [t.split(":")[0] for t in titles] == [f"a → {w}" for w in words]
    weights = [float(t.split(": ")[1]) for t in titles]
    assert sum(weights) == pytest.approx(1.0, abs=0.01)  # a row sums to 1
    colour = page.evaluate(
        "el => getComputedStyle(el).backgroundColor", cells.first.element_handle()
    )
    assert colour.startswith("rgba(36, 86, 201")
    assert "Layer 0 (the last), mean of 2 heads" in page.inner_text("#attention-note")
    page.screenshot(path=str(tmp_path / "attention.png"), full_page=True)
    # a run without attention weights shows no heat map
    page.select_option("#classify-model", "lstm")
    page.click("#classify-submit")
    page.wait_for_selector("#classify-attention", state="hidden")


def test_serve_browser_generate_streams_with_the_slider_temperature_and_stops(
    page, tmp_path, monkeypatch
):
    # The tiny test model writes 2,000 tokens in a fraction of a second on a quiet machine:
    # slow it down (the server runs in this process) so that Stop meets a running stream.
    from seqlab.lm.model import LanguageModel

    original = LanguageModel.stream

    def slow_stream(self, *args, **kwargs):
        for piece in original(self, *args, **kwargs):
            time.sleep(0.003)
            yield piece

    monkeypatch.setattr(LanguageModel, "stream", slow_stream)
    page.focus("#tab-classify")  # keyboard: arrows move between the tabs
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "tab-generate"
    assert page.is_visible("#panel-generate") and not page.is_visible("#panel-classify")

    slider = page.locator("#generate-temperature")
    slider.focus()
    for _ in range(6):
        page.keyboard.press("ArrowRight")  # 0.70 + 6 * 0.05
    assert page.inner_text("#generate-temperature-value") == "1.00"

    page.fill("#generate-length", "2000")
    page.fill("#generate-seed", "5")
    with page.expect_request("**/v1/generate") as sent:
        page.click("#generate-submit")
    body = json.loads(sent.value.post_data)
    assert body["temperature"] == 1.0 and body["seed"] == 5 and body["length"] == 2000
    # (no wait_for_function: the page's CSP forbids the eval it polls with)
    expect(page.locator("#generate-text")).to_have_text(re.compile(r"[\s\S]{6,}"))
    assert page.is_enabled("#generate-stop")
    page.click("#generate-stop")
    page.wait_for_selector("#generate-status:has-text('Stopped after')")
    shown = len(page.text_content("#generate-text"))
    assert 5 < shown < 2000  # text arrived as it streamed, and Stop ended it early
    assert page.is_enabled("#generate-submit") and not page.is_enabled("#generate-stop")
    page.screenshot(path=str(tmp_path / "generate.png"), full_page=True)

    page.fill("#generate-length", "30")  # a whole short run ends with "Done"
    page.press("#generate-prompt", "Enter")
    page.wait_for_selector("#generate-status:has-text('Done: 30 tokens')")
    assert "seed 5" in page.inner_text("#generate-status")


def test_serve_browser_explore_shows_neighbours_and_a_map(page, serve_runs, tmp_path):
    from seqlab.embeddings import KeyedVectors

    word = KeyedVectors.load(serve_runs["vectors"]).index_to_key[3]
    page.click("#tab-explore")
    page.fill("#neighbors-word", word)
    page.fill("#neighbors-topn", "5")
    page.press("#neighbors-word", "Enter")
    page.wait_for_selector("#neighbors-list li")
    assert page.locator("#neighbors-list li").count() == 5
    page.wait_for_selector("#project-plot svg")
    assert page.locator("#project-plot circle").count() == 6  # the word and its neighbours
    assert page.locator("#project-plot circle.query").count() == 1
    page.fill("#neighbors-word", "qqqzzz")
    page.press("#neighbors-word", "Enter")
    page.wait_for_selector("#neighbors-error:not([hidden])")
    assert "not in the vocabulary" in page.inner_text("#neighbors-error")
    page.screenshot(path=str(tmp_path / "explore.png"), full_page=True)


def test_serve_browser_fits_a_360_px_screen(browser, server, tmp_path):
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    try:
        page.goto(server + "/")
        page.wait_for_selector("#classify-model option", state="attached")
        page.fill("#classify-text", "great fun")
        page.click("#classify-submit")
        page.wait_for_selector("#classify-result:not([hidden])")
        for tab in ("#tab-classify", "#tab-generate", "#tab-explore"):
            page.click(tab)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"{tab}: the page is {width} px wide on a 360 px screen"
        box = page.locator("#neighbors-submit").bounding_box()
        assert box is not None and box["width"] > 250  # full-width buttons on a phone
        page.screenshot(path=str(tmp_path / "narrow.png"), full_page=True)
    finally:
        context.close()
