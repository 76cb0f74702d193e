"""Route 53 hosted zones."""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.route53.models import FakeZone

from ..registry import Patch, fix


def _zone_get_cfn_attribute(self: FakeZone, attr: str) -> Any:
    if attr == "NameServers" and self.delegation_set is not None:
        return list(self.delegation_set.name_servers)
    if attr == "Id":
        return self.id
    raise UnformattedGetAttTemplateException()


@fix
def hosted_zone_name_servers(patch: Patch) -> None:
    """``Fn::GetAtt [HostedZone, NameServers]`` fails: moto's FakeZone has no get_cfn_attribute."""
    patch(FakeZone, "get_cfn_attribute", _zone_get_cfn_attribute)
