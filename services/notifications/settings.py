"""Notifications' configuration (env prefix `REKO_NOTIFICATIONS_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.identity_crypto import check_keys_setting
from shared.settings import ServiceSettings


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
