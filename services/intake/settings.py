"""Intake's configuration (env prefix `REKO_INTAKE_`)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.intake.risk_flags import RiskFlagRules
from shared.identity_crypto import check_keys_setting
from shared.settings import ServiceSettings
from shared.sickleave.sick_leave_case import DEFAULT_MAX_GAP, LARGEST_MAX_GAP


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REKO_INTAKE_", env_nested_delimiter="__", extra="ignore")

    http_port: int = 8001
    # docs/rules.md §2.2: certificates at most `max_gap` uncovered days apart belong to one case.
    max_gap: int = Field(default=DEFAULT_MAX_GAP, ge=0, le=LARGEST_MAX_GAP)
    # The HMAC key that turns a personnummer into the patient pseudonym (docs/rules.md §3.4). No default:
    # a region sets its own secret, and the stack command generates one for a local run.
    pseudonym_key: SecretStr
    # Fernet keys, comma-separated, newest first, shared with notifications: the personnummer goes on the
    # identity topic encrypted with the first (docs/identity.md). Empty: no identity is published.
    identity_keys: SecretStr = SecretStr("")
    # docs/rules.md §5: weights, thresholds and levels of the risk flags (`REKO_INTAKE_RISK_FLAGS__...`).
    risk_flags: RiskFlagRules = RiskFlagRules()
    # The HTTP entry point (POST /certificate-events): larger requests are refused with 413.
    ingestion_max_events: int = Field(default=5000, ge=1, le=100_000)
    ingestion_max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # How long a submission may wait for the broker's acknowledgements before answering 503.
    ingestion_send_timeout_seconds: float = Field(default=30.0, gt=0)

    @field_validator("identity_keys")
    @classmethod
    def _identity_keys_are_fernet_keys(cls, keys: SecretStr) -> SecretStr:
        check_keys_setting(keys.get_secret_value())
        return keys
