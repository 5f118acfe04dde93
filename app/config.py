"""Settings: the one place that reads the environment (`ONSET_*` variables)."""

from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONSET_", extra="ignore")

    data_dir: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Where the database, thumbnails, crops, exports, runs and job logs live.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means SQLite at <data_dir>/onset.db.",
    )
    secret_key: str = Field(
        default="",
        description="Signs session cookies; empty: a random key in <data_dir>/secret.key.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    max_heavy_jobs: int = Field(default=1, ge=1, description="Heavy jobs that may run at once.")
    job_runner: bool = Field(default=True, description="Start queued background jobs from "
                             "this server process (off for benchmarks and some tests).")
    job_command: str = Field(default="{python} -m app job run {id}", description="The command "
                             "line of a job's process: {id} is the job id, {python} this "
                             "server's interpreter. Wrap it to run jobs elsewhere or "
                             "gentler, e.g. `nice -n 10 {python} -m app job run {id}`.")
    worker_threads: int = Field(default=8, ge=1, le=64, description="Requests handled at "
                                "once (AnyIO's thread pool; the rest wait their turn). Page "
                                "work is Python under one interpreter lock: under 20 "
                                "concurrent reviewers 8 threads kept every p95 near 260 ms, "
                                "where AnyIO's default 40 left saves queueing behind page "
                                "renders (p95 460-610 ms; README, Review latency).")
    upload_max_bytes: int = Field(default=15 * 1024 * 1024, ge=1024)
    upload_max_pixels: int = Field(default=40_000_000, ge=10_000)
    adjudication_onset_gap: int = Field(default=2, ge=0, description="Reviewers' onsets "
                                        "further apart than this many frames go to the "
                                        "adjudication queue.")
    secure_cookies: bool = Field(default=False, description="Mark the session cookie Secure "
                                 "and send HSTS: set it when Onset is served over HTTPS.")
    login_limit_account: str = Field(default="10 per 5 minutes", description="Failed logins "
                                     "allowed per account (a `limits` rate string).")
    login_limit_address: str = Field(default="30 per 5 minutes", description="Failed logins "
                                     "allowed per client address.")

    @field_validator("login_limit_account", "login_limit_address")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit such as '10 per 5 minutes'") from None
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'onset.db'}"

    @cached_property
    def session_secret(self) -> str:
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret.key"
        if not key_file.exists():
            import secrets

            self.data_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip()

    # Sub-folders of the data dir, named once so every module agrees.
    @property
    def thumbs_dir(self) -> Path:
        return self.data_dir / "thumbs"

    @property
    def crops_dir(self) -> Path:
        return self.data_dir / "crops"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"


def get_settings() -> Settings:
    return Settings()
