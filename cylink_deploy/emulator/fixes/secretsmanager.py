"""Secrets Manager secrets."""

from __future__ import annotations

import secrets
import string
from typing import Any

from moto.secretsmanager.models import SecretsManagerBackend, secretsmanager_backends

from ..registry import Patch, fix
from ._models import CompatModel, register_models


def _generate(spec: dict[str, Any]) -> str:
    """A value as GenerateSecretString describes it (length, punctuation or not)."""
    alphabet = (
        string.ascii_letters + string.digits + ("" if spec.get("ExcludePunctuation") else "!#$%&()*+,-.:;<=>?[]^_{|}~")
    )
    return "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))


class Secret(CompatModel):
    TYPE = "AWS::SecretsManager::Secret"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        value = (
            _generate(p["GenerateSecretString"]) if p.get("GenerateSecretString") is not None else p.get("SecretString")
        )
        backend = secretsmanager_backends[account_id][region_name]
        secret_name = p.get("Name") or name
        backend.create_secret(secret_name, value, None, p.get("Description"), None, p.get("KmsKeyId"), None, [], False)
        return cls(backend.secrets[secret_name].arn)

    @classmethod
    def delete_resource(
        cls, physical_id: str, resource_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        secretsmanager_backends[account_id][region_name].delete_secret(physical_id, None, True)


@fix
def secretsmanager_secret(patch: Patch) -> None:
    """``AWS::SecretsManager::Secret`` is ignored: no secret, no generated value."""
    register_models(patch, Secret)


def _update_secret_version_stage(original: Any) -> Any:
    def update(
        self: Any, secret_id: str, version_stage: str, remove_from_version_id: str, move_to_version_id: str
    ) -> Any:
        result = original(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].default_version_id = move_to_version_id  # what GetSecretValue returns by default
        return result

    return update


@fix
def secretsmanager_current_stage(patch: Patch) -> None:
    """UpdateSecretVersionStage moves the AWSCURRENT label but GetSecretValue keeps returning the old
    version (rotate-redis-auth promotes the new token exactly so)."""
    patch(
        SecretsManagerBackend,
        "update_secret_version_stage",
        _update_secret_version_stage(SecretsManagerBackend.update_secret_version_stage),
    )
