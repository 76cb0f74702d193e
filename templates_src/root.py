"""Root stack: the user-facing parameters, the nested stacks, and the outputs engineers need.

Children are wired only through root parameters and ``Fn::GetAtt [Child, Outputs.X]``: a child
parameter X is fed by the output X of an earlier sibling when one exists, else by the root parameter X.
Root parameters copy their type and constraints from the child that declares them, so a constraint is
written once. Each child's TemplateURL is built from the TemplatesBucket and TemplatesKeyPrefix
parameters plus a content-addressed file name, so unchanged children keep their URL between builds.

A few child parameters are *derived* by the root (``DERIVED``) rather than passed through: the
monitoring stack learns whether the services exist from ImageTag without taking the tag itself, so a
release changes the services stack only.

Outputs: SiteUrl, ApiUrl, AlbDnsName, <Service>RepositoryUri, ClusterName, <Service>ServiceName,
RedisEndpointAddress, <Service>LogGroupName, DashboardUrl, AlarmTopicArn, NameServers (new hosted zone only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from troposphere import And, Equals, GetAtt, If, Not, Output, Parameter, Ref, Sub, Template
from troposphere.cloudformation import Stack

from . import cache, cluster, dns, keys, loadbalancer, monitoring, network, records, registry, security, services
from .common import DOMAIN_PATTERN, SERVICES, add_param
from .network import subnet_cidr_params


@dataclass(frozen=True)
class Child:
    """A nested stack: its file stem, builder, and the root condition it is deployed under."""

    name: str
    logical_id: str
    build: Callable[[], Template]
    condition: str | None = None


# Dependency order: a child may only read outputs of children listed before it.
CHILDREN: tuple[Child, ...] = (
    Child("keys", "KeysStack", keys.build),
    Child("network", "NetworkStack", network.build),
    Child("security", "SecurityStack", security.build),
    Child("cache", "CacheStack", cache.build),
    Child("registry", "RegistryStack", registry.build),
    Child("cluster", "ClusterStack", cluster.build),
    Child("dns", "DnsStack", dns.build, "HasDomain"),
    Child("loadbalancer", "LoadBalancerStack", loadbalancer.build),
    Child("records", "RecordsStack", records.build, "HasDomain"),
    # Before the services: they roll back on its alarms (see monitoring.py for why not after).
    Child("monitoring", "MonitoringStack", monitoring.build),
    Child("services", "ServicesStack", services.build, "HasImageTag"),
)

# The guide's values (and production-safe ones where it is silent).
DEFAULTS: dict[str, Any] = {
    "NamePrefix": "cylink",
    "VpcCidr": "10.0.0.0/16",
    **{name: cidr for name, (cidr, _) in subnet_cidr_params().items()},
    "EgressMode": "nat-per-az",
    "RedisNodeType": "cache.t3.medium",
    "RedisEngineVersion": "7.1",
    "RedisNodeCount": 2,
    "RedisFailover": "auto",
    "RedisSnapshotRetentionDays": 7,
    "EcrKeepImages": 30,
    "LogRetentionDays": 30,
    "FargateSpotWeight": 4,
    "BackendMinCapacity": 2,
    "BackendMaxCapacity": 10,
    "BackendCpuTarget": 70,
    "FrontendMinCapacity": 2,
    "FrontendMaxCapacity": 6,
    "FrontendCpuTarget": 70,
    "AlbDeletionProtection": "true",
    "WafEnabled": "true",
    "WafRateLimit": 20000,
    "DomainName": "",
    "HostedZoneId": "",
    "ImageTag": "",
    "EnvironmentName": "dev",
    "AlarmEmail": "",
    **monitoring.threshold_defaults(),
    # No event scheduled: deploy.py event fills a slot (and a plain deploy keeps what it set).
    **{name: 0 if type_ == "Number" else "" for name, (_, type_, _) in services.event_params().items()},
}

# Child parameters the root computes from its conditions (never a root parameter of their own).
DERIVED: dict[str, Any] = {"ServicesDeployed": If("HasImageTag", "true", "false")}

# Root parameters whose contract differs from the child's: empty means "not yet".
ROOT_OVERRIDES: dict[str, dict[str, Any]] = {
    "LogRetentionDays": {"Description": "Days every log is kept: container, VPC flow, WAF and ALB access logs."},
    "DomainName": {
        "AllowedPattern": DOMAIN_PATTERN,
        "Description": "Site domain (apex), e.g. example.com; empty: HTTP only on the ALB's name.",
    },
    "ImageTag": {
        "AllowedPattern": r"^$|" + services.IMAGE_TAG_PATTERN,
        "Description": "Image tag both services run; empty deploys everything but the services (push images first).",
    },
}

# (child logical ID, output) re-exported by the root under the same name.
ROOT_OUTPUTS: tuple[tuple[str, str], ...] = (
    ("LoadBalancerStack", "SiteUrl"),
    ("LoadBalancerStack", "ApiUrl"),
    ("LoadBalancerStack", "AlbDnsName"),
    ("ClusterStack", "ClusterName"),
    ("MonitoringStack", "DashboardUrl"),
    ("MonitoringStack", "AlarmTopicArn"),
    ("CacheStack", "RedisEndpointAddress"),
    *[("RegistryStack", f"{s.title}RepositoryUri") for s in SERVICES],
    *[("ServicesStack", f"{s.title}ServiceName") for s in SERVICES],
    *[("ClusterStack", f"{s.title}LogGroupName") for s in SERVICES],
)

# Parameters the deploy tool (or taskcat) sets, never the parameter files.
PLACEMENT_PARAMS = ("TemplatesBucket", "TemplatesKeyPrefix")


def _root_parameters(t: Template, templates: dict[str, Template]) -> None:
    # Defaults to empty so parameter files need not name an account's bucket; a Rule rejects empty.
    add_param(
        t,
        "TemplatesBucket",
        "S3 bucket holding the child templates (set by deploy.py or taskcat).",
        AllowedPattern=r"^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        Default="",
    )
    t.add_rule(
        "TemplatesBucketIsSet",
        {
            "Assertions": [
                {
                    "Assert": Not(Equals(Ref("TemplatesBucket"), "")),
                    "AssertDescription": (
                        "TemplatesBucket must name the bucket holding the child templates (deploy.py sets it)."
                    ),
                }
            ]
        },
    )
    add_param(
        t,
        "TemplatesKeyPrefix",
        "Key prefix of the child templates, ending in '/' (or empty).",
        AllowedPattern=r"^$|^[0-9A-Za-z._/-]*/$",
        MaxLength=512,  # S3 keys are at most 1,024 bytes: the prefix leaves room for the file names
        Default="",
    )
    for name, default in DEFAULTS.items():
        source = next(tpl.parameters[name] for tpl in templates.values() if name in tpl.parameters)
        props = {
            **source.to_dict(),
            **ROOT_OVERRIDES.get(name, {}),
            "Default": str(default),
        }  # parameter values are strings
        t.add_parameter(Parameter(name, **props))


def _child_parameters(child: Child, tpl: Template, produced: dict[str, Child], root: Template) -> dict[str, Any]:
    """Feed each child parameter from a sibling output of the same name, else the root parameter."""
    values: dict[str, Any] = {}
    for name in sorted(tpl.parameters):
        producer = produced.get(name)
        if producer is not None:
            value: Any = GetAtt(producer.logical_id, f"Outputs.{name}")
            if producer.condition and producer.condition != child.condition:
                value = If(producer.condition, value, "")  # e.g. no certificate without a domain
            values[name] = value
        elif name in DERIVED:
            values[name] = DERIVED[name]
        elif name in root.parameters:
            values[name] = Ref(name)
        else:
            raise ValueError(f"{child.name}: parameter {name} has no producer and no root parameter")
    return values


def template_url(file_name: str) -> Sub:
    """Virtual-hosted S3 URL of a child under the templates bucket and prefix."""
    return Sub("https://${TemplatesBucket}.s3.${AWS::Region}.${AWS::URLSuffix}/${TemplatesKeyPrefix}" + file_name)


def build(templates: dict[str, Template], file_names: dict[str, str]) -> Template:
    """Root template for the built children (``templates``) stored under ``file_names``."""
    t = Template(Description="Cylink root stack: nested stacks for the whole construction guide")
    _root_parameters(t, templates)
    t.add_condition("HasDomain", Not(Equals(Ref("DomainName"), "")))
    t.add_condition("HasImageTag", Not(Equals(Ref("ImageTag"), "")))
    t.add_condition("CreateZone", And(Equals(Ref("HostedZoneId"), ""), Not(Equals(Ref("DomainName"), ""))))

    produced: dict[str, Child] = {}
    for child in CHILDREN:
        tpl = templates[child.name]
        kwargs: dict[str, Any] = {"Condition": child.condition} if child.condition else {}
        t.add_resource(
            Stack(
                child.logical_id,
                TemplateURL=template_url(file_names[child.name]),
                Parameters=_child_parameters(child, tpl, produced, t),
                **kwargs,
            )
        )
        for out in tpl.outputs:
            if out in produced:
                raise ValueError(f"output {out} of {child.name} is also produced by {produced[out].name}")
            produced[out] = child

    by_id = {c.logical_id: c for c in CHILDREN}
    for logical_id, name in ROOT_OUTPUTS:
        cond = by_id[logical_id].condition
        desc = templates[by_id[logical_id].name].outputs[name].Description
        t.add_output(
            Output(
                name,
                Value=GetAtt(logical_id, f"Outputs.{name}"),
                Description=desc,
                **({"Condition": cond} if cond else {}),
            )
        )
    t.add_output(
        Output(
            "NameServers",
            Condition="CreateZone",
            Value=GetAtt("DnsStack", "Outputs.NameServers"),
            Description="Delegate the domain to these name servers at the registrar.",
        )
    )
    return t
