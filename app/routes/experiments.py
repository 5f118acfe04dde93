"""Experiment pages: every experiment, and one experiment's table and per-fold chart.

Read from experiment.json in `$ONSET_DATA_DIR/experiments/<id>/` (written by `onset
experiment`); a running experiment's page refreshes its table as cells finish."""

from fastapi import APIRouter, HTTPException, Request

from app.auth import CurrentUser
from app.htmx import render
from app.services import charts
from app.services.experiments import ExperimentSpec, get_experiment, list_experiments
from app.specs import fields

router = APIRouter(prefix="/experiments", include_in_schema=False)
NAV = [("Experiments", "/experiments", "reviewer")]
REFRESH = "every 3s"


@router.get("")
def experiments_page(request: Request, _user: CurrentUser):
    """Every experiment of this data folder, newest first; admins get the start form (it
    queues an `experiment` job through the admin page's job route)."""
    return render(request, "experiments.html",
                  {"experiments": list_experiments(request.app.state.settings),
                   "form": fields(ExperimentSpec)})


@router.get("/{experiment_id}")
def experiment_page(request: Request, experiment_id: str, _user: CurrentUser):
    """One row per variant (accuracy on the common test set, macro-F1, per-class recall,
    run, snapshot), a per-fold accuracy chart and every pair's paired test; htmx polls the
    `results` block while the experiment runs."""
    result = get_experiment(request.app.state.settings, experiment_id)
    if result is None:
        raise HTTPException(404, f"no experiment {experiment_id!r}")
    return render(request, "experiment.html", {
        "experiment": result, "chart": fold_chart(result), "refresh": REFRESH,
        "classes": sorted({c for v in result["variants"] for c in (v["per_class"] or {})}),
    }, block="results")


def fold_chart(result: dict):
    """Per-fold accuracy on the common test set, one line per finished variant."""
    series = {v["name"]: [(fold, acc) for fold, acc in enumerate(v["accuracy"]["per_fold"],
                                                                 start=1)]
              for v in result["variants"] if v.get("accuracy")}
    return charts.line_chart(series, y_min=0, y_max=1, y_label="accuracy per fold",
                             x_label="fold", empty="No variant has finished yet.")
