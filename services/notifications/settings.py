"""Notifications' configuration (env prefix `REKO_NOTIFICATIONS_`)."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.identity_crypto import check_keys_setting
from shared.settings import ServiceSettings


class MailSettings(BaseModel):
    """Mail to the coordinators through SMTP (docs/alert-channels.md §2), `REKO_NOTIFICATIONS_MAIL__HOST`, ...

    With no `host` the mail deliveries are still written and wait, counted as backlog, until a host is set.
    """

    model_config = ConfigDict(frozen=True)

    host: str = ""
    port: int = Field(default=587, ge=1, le=65535)
    # `starttls` upgrades a plain connection (port 587), `tls` speaks TLS from the start (port 465).
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str = ""
    password: SecretStr = SecretStr("")
    sender: str = "reko <reko@localhost>"
    # Where the mail's links lead: the notifications service's pages as the coordinators reach them.
    worklist_base_url: str = "http://127.0.0.1:8003"
    timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    max_attempts: int = Field(default=6, ge=1, le=50)
    retry_initial_seconds: float = Field(default=30.0, ge=0)
    retry_max_seconds: float = Field(default=3600.0, ge=0)
    # No mail goes out before the working morning, from the evening on, or at the weekend (Stockholm time).
    working_morning: time = time(7, 0)
    quiet_from: time = time(18, 0)
    default_digest_time: time = time(7, 30)
    poll_seconds: float = Field(default=1.0, gt=0, le=60)


class WebhookSettings(BaseModel):
    """Signed webhooks to subscribed systems (docs/alert-channels.md §3), `REKO_NOTIFICATIONS_WEBHOOKS__TIMEOUT_SECONDS`, ..."""

    model_config = ConfigDict(frozen=True)

    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    max_attempts: int = Field(default=8, ge=1, le=50)
    retry_initial_seconds: float = Field(default=5.0, ge=0)
    retry_max_seconds: float = Field(default=3600.0, ge=0)
    # Deliveries sent at once; a receiver that hangs holds one of them until its timeout.
    concurrency: int = Field(default=8, ge=1, le=100)
    poll_seconds: float = Field(default=0.5, gt=0, le=60)
    # Production sets this: a subscription's URL must then be https (docs/alert-channels.md §3).
    require_https: bool = False


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REKO_NOTIFICATIONS_", env_nested_delimiter="__", extra="ignore")

    http_port: int = 8003
    # docs/coordinators.md §3: a JSON or CSV file of coordinators, their units and stand-ins, loaded
    # at every start (idempotent; what the API set stays).
    coordinators_file: Path | None = None
    # docs/identity.md: the Fernet keys shared with intake that the identity topic is encrypted with
    # (comma-separated, newest first; every one decrypts), and notifications' own keys for the
    # personnummer at rest (the first encrypts; a row under an older one is re-encrypted at start).
    # Both empty: the identity topic is not consumed and no page names a patient.
    identity_keys: SecretStr = SecretStr("")
    identity_storage_keys: SecretStr = SecretStr("")

    @field_validator("identity_keys", "identity_storage_keys")
    @classmethod
    def _identity_keys_are_fernet_keys(cls, keys: SecretStr) -> SecretStr:
        check_keys_setting(keys.get_secret_value())
        return keys

    @model_validator(mode="after")
    def _identity_keys_come_in_pairs(self) -> NotificationsSettings:
        if bool(self.identity_keys.get_secret_value()) != bool(self.identity_storage_keys.get_secret_value()):
            raise ValueError("identity_keys and identity_storage_keys are set together (docs/identity.md)")
        return self

    mail: MailSettings = MailSettings()
    webhooks: WebhookSettings = WebhookSettings()
    # How often (real seconds) the next-step check looks for plans whose next step fell overdue (docs/casework.md §3.3).
    next_step_check_interval_seconds: float = Field(default=1.0, gt=0)
