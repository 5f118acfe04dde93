"""Background jobs: the runner (runner.py), what each kind is and runs (commands.py), and
how far a job has got (progress.py)."""

from app.services.jobs.commands import JobParamError
from app.services.jobs.runner import (
    ACTIVE,
    FINAL,
    JobRunner,
    cancel_job,
    claim_job,
    get_job,
    job_dir,
    read_progress,
    recent_jobs,
    recover_orphans,
    submit_job,
)

__all__ = ["ACTIVE", "FINAL", "JobParamError", "JobRunner", "cancel_job", "claim_job", "get_job",
           "job_dir", "read_progress", "recent_jobs", "recover_orphans", "submit_job"]
