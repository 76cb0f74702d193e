"""ACM certificates."""

from __future__ import annotations

from typing import Any

from moto.acm.models import acm_backends

from ..registry import Patch, fix
from ._models import CompatModel, register_models


class Certificate(CompatModel):
    TYPE = "AWS::CertificateManager::Certificate"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        arn = acm_backends[account_id][region_name].request_certificate(
            p["DomainName"], None, p.get("SubjectAlternativeNames") or [], []
        )
        return cls(arn)


@fix
def acm_certificate(patch: Patch) -> None:
    """``AWS::CertificateManager::Certificate`` is ignored: ``Ref`` to it resolves to nothing."""
    register_models(patch, Certificate)
