"""An admin starts a tiny, real experiment from the admin page and watches it in a real
browser: the job shows in the live section, its page links the experiment, and the
experiment's table fills in row by row (htmx refreshes, no reload) as each cell's run
finishes, then shows the per-fold chart and the paired test.

A server of its own with its job runner on: the tests/experiments tree (six subjects, three
classes, 8-frame sequences, onsets marked on the happy ones), exported at 32 px without
face location, and the tests' fast training config, so each cell (a process of its own,
TensorFlow start-up included) takes seconds."""

from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, logged_in_page, running_server
from tests.experiments.conftest import build
from tests.support.tiny_jobs import write_fast_config
from tests.support.web import PASSWORD

pytestmark = pytest.mark.browser
VARIANTS = ("policy=onset", "policy=peak:2")


@pytest.fixture(scope="module")
def experiment_site(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (make browser-deps)")
    from app.db import make_engine, make_session_factory, session_scope
    from app.services.users import create_user
    from bench.common import fresh_settings

    base = tmp_path_factory.mktemp("experiment")
    settings = fresh_settings(base / "var")
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    build(factory, base / "ck")
    with session_scope(factory) as session:
        create_user(session, name="boss", password=PASSWORD, role="admin")
    config = write_fast_config(base / "fast.json")
    with running_server(base, settings, {}) as base_url:
        yield {"url": base_url, "config": config, "data_dir": settings.data_dir}
    engine.dispose()


def _rows(page) -> list[tuple[str, str]]:
    """(variant, done yes/no) of every row of the experiment table, as shown now."""
    return page.evaluate("""() => [...document.querySelectorAll(
        '.experiment-table tr.variant-row')].map((r) => [r.cells[0].textContent.trim(),
                                                        r.dataset.done])""")


def test_admin_starts_an_experiment_and_watches_its_table_fill_in(experiment_site, browser,
                                                                  shoot):
    contexts: list = []
    admin = logged_in_page(browser, experiment_site["url"], "boss", contexts)
    try:
        admin.goto("/admin")
        form = admin.locator("#experiment-form")
        form.locator("textarea[name=vary]").fill("policy=onset,peak:2")
        form.locator("input[name=folds]").fill("3")
        form.locator("details.advanced summary").click()
        form.locator("textarea[name=base]").fill("face=none\nsize=32")
        form.locator("input[name=config]").fill(str(experiment_site["config"]))
        form.locator("button[type=submit]").click()

        job_link = admin.locator("#live a.job-live", has_text="experiment")
        job_link.wait_for()
        admin.goto(job_link.get_attribute("href"))
        # The job page links its experiment once the job has planned it (experiment.json).
        admin.locator("#open-experiment").wait_for(timeout=60_000)
        assert admin.locator("#experiment-cells tr.variant-row").count() == len(VARIANTS)
        shoot(admin, "experiment-job")
        admin.click("#open-experiment")
        admin.wait_for_selector(".experiment-table")
        assert [name for name, _ in _rows(admin)] == list(VARIANTS)

        # Watch without reloading: a marker on window survives only in-place htmx swaps.
        admin.evaluate("() => { window.notReloaded = true; }")
        seen: list[int] = []
        for _ in range(1200):  # bounded: 300 s at 0.25 s
            done = sum(flag == "yes" for _, flag in _rows(admin))
            if not seen or seen[-1] != done:
                seen.append(done)
            status = admin.inner_text("#experiment-status").strip()
            if status != "running":
                break
            admin.wait_for_timeout(250)
        assert status == "done", (status, seen, admin.inner_text("#results"))
        assert admin.evaluate("() => window.notReloaded === true")
        # The rows filled in one at a time, as each cell's run finished.
        assert seen == [0, 1, 2], seen

        table = admin.inner_text(".experiment-table")
        assert table.count("%") >= len(VARIANTS)  # an accuracy per variant
        assert admin.locator("svg.chart polyline").count() == len(VARIANTS)  # one per variant
        comparison = admin.locator(".comparisons-table tbody tr")
        assert comparison.count() == 1
        # The pair over 3 folds x 1 seed, with its verdict (the tiny model may tie: any test).
        cells = comparison.locator("td").all_inner_texts()
        assert cells[:2] == list(VARIANTS) and "n = 3" in cells[4] and cells[5], cells
        shoot(admin, "experiment")

        # Every cell links to its run, which opens as any run does.
        run_link = admin.locator(".experiment-table a[href^='/runs/']").first
        run_id = run_link.inner_text().strip()
        run_link.click()
        admin.wait_for_url(f"**/runs/{run_id}")
        assert (experiment_site["data_dir"] / "runs" / run_id / "metrics.json").is_file()
        admin.goto("/experiments")
        shoot(admin, "experiments")
    finally:
        for context in contexts:
            context.close()
