"""Experiments (issue 12): variants of one base selection, exported as snapshots, trained as
runs on the same subject folds, scored on a common test set, compared with paired tests.

    spec = ExperimentSpec(vary={"policy": ["onset", "percent:50", "peak:3"]}, folds=5)
    result = run_experiment(session, settings, spec)     # experiment.json's body
"""

from app.services.experiments.plan import ExperimentError, Plan, make_plan
from app.services.experiments.runner import (
    RESULT_FILE,
    experiments_dir,
    get_experiment,
    list_experiments,
    read_result,
    run_experiment,
)
from app.services.experiments.spec import FACTORS, ExperimentSpec, Variant, parse_vary

__all__ = [
    "FACTORS", "RESULT_FILE", "ExperimentError", "ExperimentSpec", "Plan", "Variant",
    "experiments_dir", "get_experiment", "list_experiments", "make_plan", "parse_vary",
    "read_result", "run_experiment",
]
