"""An admin's training loop in a real browser against the live server and its job runner:
start a (tiny, real) training job from the admin page, watch it progress, open its run,
make it the active model, compare it with an earlier run, and try it on the astronaut."""

import re
import shutil
from pathlib import Path

import pytest

from app.db import session_scope
from tests.support.tiny_jobs import SNAPSHOT_ID, add_tiny_snapshot, write_fast_config
from tests.support.tiny_training import LABELS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def training_ready(site, tiny_export, tiny_run, tmp_path_factory):
    """The tiny export as a snapshot, an earlier run (made by `onset train --out runs`) and a
    config file that keeps the job to seconds."""
    with session_scope(site.session_factory) as session:
        add_tiny_snapshot(session, tiny_export)
    earlier = site.data_dir / "runs" / tiny_run.run_dir.name
    if not earlier.exists():
        shutil.copytree(tiny_run.run_dir, earlier)
    folder = tmp_path_factory.mktemp("admin-flow")
    return {"config": write_fast_config(folder / "fast.json"), "earlier": earlier.name,
            "folder": folder}


def _progress(page) -> tuple[str, float, str]:
    """(status, progress bar width in %, stage text) as the job page shows them now."""
    return page.evaluate("""() => {
        const fill = document.getElementById('job-progress-fill');
        return [document.getElementById('job-status').textContent.trim(),
                parseFloat(fill.style.width) || 0,
                document.getElementById('job-stage').textContent.trim()];
    }""")


def test_admin_trains_watches_promotes_compares_and_predicts(open_page, site, shoot,
                                                             training_ready):
    admin = open_page("boss")
    admin.goto("/admin")
    assert "Nothing running" in admin.inner_text("#live")
    form = admin.locator("#train-form")
    form.locator("select[name=dataset]").select_option(SNAPSHOT_ID)
    form.locator("input[name=folds]").fill("2")
    form.locator("input[name=epochs]").fill("2")
    form.locator("details.advanced summary").click()
    form.locator("input[name=config]").fill(str(training_ready["config"]))
    form.locator("button[type=submit]").click()

    # htmx swaps the live section in place: the job is listed, then its bar starts to fill.
    job_link = admin.locator("#live a.job-live", has_text="train")
    job_link.wait_for()
    assert admin.locator("#history .jobs-table tbody tr").count() == 1  # out of band, too
    admin.wait_for_function("""() => {
        const bar = document.querySelector('#live a.job-live .job-progress > span');
        return bar && parseFloat(bar.style.width) > 0;
    }""", timeout=120_000)
    shoot(admin, "admin")

    # The job's own page in a second tab; the admin page keeps polling in the first.
    page = admin.context.new_page()
    page.goto(job_link.get_attribute("href"))
    seen, shot_mid_run = [], False
    for _ in range(1200):  # bounded: 240 s at 0.2 s
        state = _progress(page)
        seen.append(state)
        if state[0] not in ("queued", "running"):
            break
        if not shot_mid_run and state[1] >= 60:  # into fold 2: curves and a fold result
            shoot(page, "job")
            shot_mid_run = True
        page.wait_for_timeout(200)
    status = seen[-1][0]
    assert status == "succeeded", (seen[-5:], page.inner_text("#job-log"))
    widths = [w for s, w, _ in seen if s == "running"]
    assert len(set(widths)) >= 2 and widths == sorted(widths), widths  # it moved, forward
    assert any(st.startswith("fold 1/2") for s, _, st in seen if s == "running")
    # htmx settles a swapped element's attributes a moment after its text: wait for it.
    page.wait_for_function(
        "() => parseFloat(document.getElementById('job-progress-fill').style.width) === 100")
    assert "fold 1: " in page.inner_text("#fold-accuracy")
    page.wait_for_timeout(500)  # the bar's CSS transition
    shoot(page, "job-done")
    if not shot_mid_run:  # the job outran the polling: the finished page stands in
        shoot(page, "job")

    # Back on the admin page, without a reload: nothing running, the job done, its run listed.
    admin.locator("#live", has_text="Nothing running").wait_for()
    history = admin.locator("#history")
    history.locator(".jobs-table .status-succeeded").wait_for()
    run_link = history.locator(".jobs-table a.mono")
    assert run_link.count() == 1

    page.click("text=Open run")
    page.wait_for_url(re.compile(r"/runs/[\w-]+$"))
    run_id = page.url.rsplit("/", 1)[1]
    assert run_link.inner_text() == run_id
    assert page.locator("svg.heatmap").count() == 1
    assert page.locator(".stat-value").first.inner_text().endswith("%")
    page.click("button:has-text('Make active model')")
    page.wait_for_selector(".page-head .badge-ok:has-text('active model')")
    shoot(page, "run")

    page.select_option("select[name=b]", training_ready["earlier"])
    page.click("button:has-text('Compare')")
    page.wait_for_url(re.compile(r"/runs/compare\?"))
    columns = page.locator(".compare-cols > div")
    assert columns.count() == 2
    assert run_id in columns.nth(0).inner_text()
    assert training_ready["earlier"] in columns.nth(1).inner_text()
    assert page.locator(".compare-cols svg.heatmap").count() == 2
    shoot(page, "compare")

    page.goto("/runs")
    assert page.locator(".runs-table tbody tr").count() == 2
    shoot(page, "runs")

    from PIL import Image
    from skimage import data

    photo = Path(training_ready["folder"]) / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    page.goto("/predict")
    assert run_id in page.inner_text(".page-head")
    page.set_input_files("#file-input", str(photo))
    page.select_option("#picked select", "happy")
    page.click("#predict-submit")
    page.wait_for_selector("#results .face img.crop", timeout=60_000)
    assert page.locator("#results .face").count() == 1  # one astronaut, one face
    bars = page.locator("#results .face .bar-row")
    assert bars.count() == len(LABELS)
    shares = [float(t.rstrip("%")) for t in bars.locator(".bar-count").all_inner_texts()]
    assert sum(shares) == pytest.approx(100, abs=0.5) and shares == sorted(shares, reverse=True)
    assert page.locator("#photo-accuracy").inner_text() in ("0.0%", "100.0%")
    shoot(page, "predict")
