"""Experiments (issue 12): variants of one base selection, exported as snapshots, trained as
runs on the same subject folds, scored on a common test set, compared with paired tests.

    spec = ExperimentSpec(vary={"policy": ["onset", "percent:50", "peak:3"]}, folds=5)
    result = run_experiment(session, settings, spec)     # experiment.json's body
"""

from app.services.experiments.plan import ExperimentError, make_plan
from app.services.experiments.runner import (
    experiment_of_job,
    get_experiment,
    list_experiments,
    run_experiment,
)
from app.services.experiments.spec import ExperimentSpec

__all__ = ["ExperimentError", "ExperimentSpec", "experiment_of_job", "get_experiment",
           "list_experiments", "make_plan", "run_experiment"]
