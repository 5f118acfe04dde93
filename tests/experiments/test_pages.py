"""/experiments and /experiments/{id}: the table, the per-fold chart, live refresh, escaping."""

import json

import pytest

from app.services.experiments import stats
from tests.support.web import login

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def site(client, make_user):
    make_user("rev1")
    login(client, "rev1")
    return client


def write_experiment(settings, status="done", finished=True) -> dict:
    scored = [stats.variant_scores([{"per_fold": folds, "true": ["happy", "sadness"] * 2,
                                     "pred": ["happy", "happy", "sadness", "sadness"],
                                     "images": 4}]) for folds in ([0.9, 0.7], [0.5, 0.6])]
    variants = [{"name": name, "settings": {"config": name}, "dataset": "d" * 16,
                 "run": f"run-{i}", "runs": [f"run-{i}"], "cells_done": 1,
                 **(scored[i] if finished or i == 0 else
                    {"accuracy": None, "macro_f1": None, "per_class": None, "run": None,
                     "runs": [], "cells_done": 0})}
                for i, name in enumerate(["config=a.json", f"config={XSS}.json"])]
    done = [v for v in variants if v["accuracy"]]
    result = {"id": "abc123def456", "status": status, "spec": {"seeds": 1, "preset": "scratch",
                                                               "config": None, "epochs": 2},
              "factors": {"config": ["a.json", f"{XSS}.json"]},
              "folds": {"k": 2, "seed": 0, "subjects": {"S1": 1, "S2": 2}},
              "common_test": {"rule": "the last 3 frames", "images": 4, "per_fold": [2, 2]},
              "variants": variants, "comparisons": stats.comparisons(done),
              "created": "2026-12-02T00:00:00+00:00"}
    folder = settings.data_dir / "experiments" / result["id"]
    folder.mkdir(parents=True)
    (folder / "experiment.json").write_text(json.dumps(result))
    return result


def test_the_list_and_the_page_show_every_variant_and_the_chart(site, settings):
    write_experiment(settings)
    listing = site.get("/experiments")
    assert listing.status_code == 200 and "/experiments/abc123def456" in listing.text
    page = site.get("/experiments/abc123def456")
    assert page.status_code == 200
    assert page.text.count('class="variant-row" data-done="yes"') == 2
    assert "80.0%" in page.text and "± 10.0" in page.text  # mean ± std of 0.9, 0.7
    assert page.text.count("<polyline") == 2 and ">fold</text>" in page.text
    assert "within noise" in page.text and "/runs/run-0" in page.text
    assert XSS not in page.text and "&lt;img src=x" in page.text
    assert "hx-trigger" not in page.text  # finished: nothing polls


def test_a_running_experiment_refreshes_its_table(site, settings):
    write_experiment(settings, status="running", finished=False)
    page = site.get("/experiments/abc123def456")
    assert 'hx-trigger="every 3s"' in page.text
    assert "0 of 1 cell(s) trained" in page.text and "/runs/run-1" not in page.text
    fragment = site.get("/experiments/abc123def456", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<section id="results"')
    assert fragment.text.count("<polyline") == 1


def test_unknown_experiments_are_404(site):
    assert site.get("/experiments/nope").status_code == 404
    assert site.get("/experiments/..%2F..").status_code == 404


def test_admins_get_a_start_form_whose_fields_make_the_spec(client, make_user):
    from app.services.experiments import ExperimentSpec
    from app.specs import parse_spec

    make_user("boss", "admin")
    login(client, "boss")
    page = client.get("/experiments").text
    assert 'action="/admin/jobs"' in page and 'name="kind" value="experiment"' in page
    # What the admin page's job route passes on from this form: one spec, stored and read
    # back by the job's process.
    form = {"vary": "policy=onset,peak:3\r\ncontempt=keep,drop", "base": "face=none",
            "folds": "4", "seeds": "1", "epochs": "", "preset": "scratch"}
    spec = parse_spec(ExperimentSpec, form)
    assert spec.vary == {"policy": ("onset", "peak:3"), "contempt": ("keep", "drop")}
    assert spec.base == {"face": "none"} and spec.folds == 4 and spec.epochs is None
    assert parse_spec(ExperimentSpec, spec.model_dump(mode="json")) == spec


def test_reviewers_get_no_start_form(site):
    assert 'name="kind" value="experiment"' not in site.get("/experiments").text


def test_the_start_form_queues_an_experiment_job_with_its_spec(client, make_user, session):
    from app.models import Job

    make_user("boss", "admin")
    token = login(client, "boss")
    response = client.post("/admin/jobs", data={
        "csrf_token": token, "kind": "experiment", "vary": "policy=onset,peak:3",
        "folds": "3", "seeds": "1", "preset": "scratch"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    job = session.query(Job).one()
    assert job.kind == "experiment" and job.status == "queued"
    assert job.params["vary"] == {"policy": ["onset", "peak:3"]} and job.params["folds"] == 3
    refused = client.post("/admin/jobs", data={"csrf_token": token, "kind": "experiment",
                                               "vary": "colour=red"})
    assert refused.status_code == 422 and "vary" in refused.text


def test_an_experiment_jobs_page_links_its_experiment_once_planned(client, make_user, session,
                                                                   settings):
    from app.models import Job
    from app.services.experiments import ExperimentSpec

    make_user("boss", "admin")
    token = login(client, "boss")
    client.post("/admin/jobs", data={"csrf_token": token, "kind": "experiment",
                                     "vary": "policy=onset,peak:3", "preset": "scratch"})
    job = session.query(Job).one()
    before = client.get(f"/admin/jobs/{job.id}").text
    assert 'id="open-experiment"' not in before  # nothing planned yet: no dead link
    experiment_id = ExperimentSpec.model_validate(job.params).digest()
    result = write_experiment(settings, status="running", finished=False)
    folder = settings.data_dir / "experiments"
    (folder / result["id"]).rename(folder / experiment_id)  # where the job's run writes it
    (folder / experiment_id / "experiment.json").write_text(json.dumps({**result,
                                                                        "id": experiment_id}))
    page = client.get(f"/admin/jobs/{job.id}").text
    assert f'href="/experiments/{experiment_id}"' in page
    assert "1 of 2 scored" in page and "0 of 1 cell(s) trained" in page
    assert XSS not in page  # a variant name is text here too
