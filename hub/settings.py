"""Configuration, from HUB_* environment variables (pydantic-settings).

Nested values use a double underscore: HUB_RULES__GRACE_DAYS=45.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


# Durations and ages are counts: a negative one is a typing error, refused at start
# rather than turned into dates before their cause. Thresholds and periods of zero are
# refused too where they would make every event a trigger or erase at once.
_Count = Annotated[int, Field(ge=0, le=36_500)]
_Positive = Annotated[int, Field(ge=1, le=36_500)]


class RulesConfig(BaseModel):
    """The numbers written in bold in rules.md, all configurable."""

    grace_days: _Count = 30  # exit rule: D + 30 days
    obligation_alert_months: _Positive = 3  # L313-8: minor received within three months
    rupture_free_days: _Count = 45  # L6222-18: rupture within 45 days of the contract start
    rupture_alert_days: _Positive = 150
    rupture_close_days: _Positive = 180
    absence_two_months_threshold: _Positive = 4
    absence_one_month_threshold: _Positive = 10
    retention_months: _Positive = 24
    min_age_case: _Count = 16
    min_age_published: _Count = 15
    majority_age: _Count = 18
    max_age_exit_rule: _Count = 25

    @model_validator(mode="after")
    def _ordered(self) -> RulesConfig:
        if self.rupture_alert_days >= self.rupture_close_days:
            raise ValueError("rupture_alert_days doit précéder rupture_close_days")
        return self


DEFAULT_PSEUDONYM_SECRET = "hub-default-pseudonym-secret"
# Said by every command that publishes person keys (`hub worker`, `hub ingest`, `hub
# dlq replay`, `hub serve`) while the secret is the public default.
DEFAULT_SECRET_WARNING = (
    "HUB_PSEUDONYM_SECRET is not set: the keys of people known by name only use the public default "
    "and can be recomputed from a guessed name; set the same secret on every connector and worker"
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", env_nested_delimiter="__", extra="ignore")

    # Empty: use the embedded broker recorded under `home` by `hub kafka start`.
    kafka_bootstrap: str = ""
    home: Path = Field(default_factory=lambda: Path.home() / ".hub")
    kafka_port: int = Field(9092, ge=1, le=65535)
    # Maven-resolved Kafka jars, shared by every HUB_HOME (tests use throw-away homes).
    jar_cache: Path = Field(default_factory=lambda: Path.home() / ".cache" / "hub")
    kafka_data_dir: Path | None = None
    # Pseudonymises INE-less person keys; set the same secret on every connector. The
    # default is public (a demo value): with it, a key can be recomputed from a guessed
    # name and date of birth; the commands that publish keys warn when they run with it.
    pseudonym_secret: str = DEFAULT_PSEUDONYM_SECRET
    topic_partitions: int = Field(4, ge=1, le=10_000)
    replication_factor: int = Field(1, ge=1, le=32)
    # Names the engine's consumer group and its own topics (`<id>-persons-changelog`…):
    # Kafka's topic-name characters, and short enough for the longest of those names.
    worker_id: str = Field("hub-worker", pattern=r"^[A-Za-z0-9._-]{1,200}$")
    # Seconds a worker waits on a partition it no longer commits before reading it again
    # (hub/worker/watchdog.py).
    worker_stall_patience: float = Field(30.0, gt=0)
    # Seconds a command publishing to Kafka (ingest, dlq replay) waits for the broker to
    # acknowledge anything before it gives up with an error (nothing is lost: the same
    # command run again publishes what was not acknowledged, and nothing twice).
    kafka_ack_timeout: float = Field(120.0, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["auto", "console", "json"] = "auto"
    rules: RulesConfig = Field(default_factory=RulesConfig)

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _case(cls, value: object, info) -> object:
        if not isinstance(value, str):
            return value
        return value.strip().upper() if info.field_name == "log_level" else value.strip().lower()

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap(cls, value: str) -> str:
        """`host:port[,host:port…]`: a port left out or mistyped would otherwise surface as
        a client's traceback, or a silent 9092."""
        value = value.strip()
        for server in filter(None, (s.strip() for s in value.split(","))):
            host, _, port = server.rpartition(":")
            if not host or not re.fullmatch(r"[0-9]{1,5}", port) or not 1 <= int(port) <= 65535:
                raise ValueError(f"{server!r} : host:port attendu (port de 1 à 65535)")
        return value

    @property
    def data_dir(self) -> Path:
        return self.kafka_data_dir or self.home / "kafka-data"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
