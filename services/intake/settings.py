"""Intake's configuration (env prefix `REKO_INTAKE_`)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REKO_INTAKE_", env_nested_delimiter="__", extra="ignore")

    http_port: int = 8001
    # rules.md §2: certificates at most `max_gap` uncovered days apart belong to one case.
    max_gap: int = Field(default=5, ge=0, le=90)
    # The HMAC key that turns a personnummer into the patient pseudonym (rules.md §3). No default:
    # a region sets its own secret, and the stack command generates one for a local run.
    pseudonym_key: SecretStr
