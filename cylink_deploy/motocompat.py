"""Compatibility layer for the local emulator (moto server, pinned to MOTO_VERSION).

Stock moto runs the CloudFormation API workflow but misses pieces our real templates use. Each
``@fix`` below closes exactly one gap, in moto's process, so the templates deploy *unchanged* through
change sets and the same deploy code runs as against AWS. Each fix has its own test
(tests/test_motocompat.py) that fails without it. Nothing here is imported when deploying to AWS.
"""
from __future__ import annotations

import functools
import secrets
import string
from typing import Any, Callable

MOTO_VERSION = "5.2.5"
FIXES: dict[str, Callable[[], None]] = {}
_applied: set[str] = set()


def fix(func: Callable[[], None]) -> Callable[[], None]:
    """Register a fix under its function name."""
    FIXES[func.__name__] = func
    return func


def apply(only: list[str] | None = None) -> None:
    """Apply every fix (or ``only`` these) once; refuse an unexpected moto version."""
    import moto

    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(f"motocompat is written for moto {MOTO_VERSION}, found {moto.__version__}: pip install 'moto[server]=={MOTO_VERSION}'")
    for name, func in FIXES.items():
        if (only is None or name in only) and name not in _applied:
            func()
            _applied.add(name)


@fix
def nested_stack_outputs() -> None:
    """``Fn::GetAtt [Child, Outputs.X]`` fails with HTTP 500: moto's Stack has no get_cfn_attribute."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.cloudformation.models import Stack

    def get_cfn_attribute(self: Stack, attr: str) -> Any:
        if attr.startswith("Outputs."):
            output = self.output_map.get(attr.removeprefix("Outputs."))
            if output is not None:
                return output.value
        raise UnformattedGetAttTemplateException()

    Stack.get_cfn_attribute = get_cfn_attribute


@fix
def change_set_refreshes_stack() -> None:
    """Executing a change set leaves the stack's template, parameters, tags and Outputs stale (or empty,
    for a CREATE): refresh them from the change set, as CloudFormation does."""
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set

    @functools.wraps(original)
    def execute_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.describe_change_set(change_set_name)
        original(self, change_set_name, stack_name)
        stack = self.stacks[change_set.stack_id]
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.parameters = change_set.parameters
        if change_set.tags is not None:
            stack.tags = change_set.tags
        stack.output_map = stack._create_output_map()

    CloudFormationBackend.execute_change_set = execute_change_set


@fix
def resource_events() -> None:
    """moto records only stack-level events, so nothing shows which resource of which nested stack is
    being created or updated: record CREATE/UPDATE IN_PROGRESS, COMPLETE and FAILED per resource, as
    CloudFormation does (a nested stack's events carry its physical ID, by which it is followed)."""
    from moto.cloudformation import parsing
    from moto.cloudformation.models import Event, cloudformation_backends

    def record(resources_map: Any, logical_id: str, resource_type: str, status: str, physical: Any = None, reason: str | None = None) -> None:
        backend = cloudformation_backends[resources_map._account_id][resources_map._region_name]
        stack = backend.stacks.get(resources_map.stack_id)
        if stack is None:
            return
        physical_id = getattr(physical, "physical_resource_id", None) or ""
        stack.events.append(Event(stack.stack_id, stack.name, logical_id, physical_id, resource_type, status, reason, None))

    def recording(original: Callable[..., Any], action: str) -> Callable[..., Any]:
        def wrapper(logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str) -> Any:
            condition = resource_json.get("Condition")
            if condition and not resources_map.lazy_condition_map[condition]:
                return original(logical_id, resource_json, resources_map, account_id, region_name)
            record(resources_map, logical_id, resource_json["Type"], f"{action}_IN_PROGRESS")
            try:
                resource = original(logical_id, resource_json, resources_map, account_id, region_name)
            except Exception as exc:
                record(resources_map, logical_id, resource_json["Type"], f"{action}_FAILED", reason=str(exc))
                raise
            record(resources_map, logical_id, resource_json["Type"], f"{action}_COMPLETE", resource)
            return resource

        return wrapper

    parsing.parse_and_create_resource = recording(parsing.parse_and_create_resource, "CREATE")
    parsing.parse_and_update_resource = recording(parsing.parse_and_update_resource, "UPDATE")


@fix
def change_set_lists_parameter_changes() -> None:
    """moto's change sets diff templates only: a new parameter value (a new ImageTag) lists no change
    although executing it modifies resources, and resources whose Condition is false are listed as
    added. Diff with the parameters and the conditions they decide, as CloudFormation does."""
    from moto.cloudformation.models import Change, ChangeSet
    from moto.cloudformation.parsing import ResourceMap

    def active(template: dict[str, Any], parameters: dict[str, Any], stack: Any) -> Callable[[str], bool]:
        rm = ResourceMap(stack.stack_id, stack.name, parameters, {}, stack.region_name, stack.account_id, template, None)
        rm.load_mapping()
        rm.load_parameters()
        rm.load_conditions()

        def is_active(name: str) -> bool:
            condition = template["Resources"][name].get("Condition")
            return not condition or bool(rm.lazy_condition_map[condition])

        return is_active

    def diff(self: ChangeSet) -> list[Change]:
        resource_map = self.stack.resource_map
        old_template = resource_map._template or {"Resources": {}}
        old_active = active(old_template, resource_map.input_parameters, self.stack) if old_template.get("Resources") else (lambda n: False)
        new_active = active(self.template_dict, self.parameters, self.stack)
        by_action = resource_map.build_resource_diff(self.template_dict, self.parameters)
        changes = []
        for name in self.template_dict["Resources"]:
            was, now = name in old_template["Resources"] and old_active(name), new_active(name)
            action = "Add" if now and not was else "Remove" if was and not now else "Modify" if now and name in by_action["Modify"] else None
            if action:
                source = old_template if action == "Remove" else self.template_dict
                changes.append(Change(action=action, logical_resource_id=name, resource_type=source["Resources"][name]["Type"]))
        for name in by_action["Remove"]:
            if old_active(name):
                changes.append(Change(action="Remove", logical_resource_id=name, resource_type=old_template["Resources"][name]["Type"]))
        return changes

    ChangeSet.diff = diff


@fix
def hosted_zone_name_servers() -> None:
    """``Fn::GetAtt [HostedZone, NameServers]`` fails: moto's FakeZone has no get_cfn_attribute."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.route53.models import FakeZone

    def get_cfn_attribute(self: FakeZone, attr: str) -> Any:
        if attr == "NameServers" and self.delegation_set is not None:
            return list(self.delegation_set.name_servers)
        if attr == "Id":
            return self.id
        raise UnformattedGetAttTemplateException()

    FakeZone.get_cfn_attribute = get_cfn_attribute


@fix
def get_azs_lists_the_regions_zones() -> None:
    """``Fn::GetAZs`` returns <region>a-d in moto, zones Tokyo does not have (1b) and EC2 then refuses;
    return the region's zones as EC2 reports them (ap-northeast-1a, 1c, 1d), as AWS does."""
    from moto.cloudformation import parsing
    from moto.ec2.models import ec2_backends

    original = parsing.clean_json

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        if isinstance(resource_json, dict) and "Fn::GetAZs" in resource_json:
            region = resource_json["Fn::GetAZs"] or resources_map._region_name
            zones = ec2_backends[resources_map._account_id][region].describe_availability_zones()
            return sorted(z.name for z in zones)
        return original(resource_json, resources_map)

    parsing.clean_json = clean_json  # recursive calls look the name up in the module


@fix
def subnet_public_ip_on_launch() -> None:
    """moto ignores a subnet's MapPublicIpOnLaunch (it maps public IPs in the first subnet of an AZ
    instead); CloudFormation applies the property, default false."""
    from moto.ec2.models.subnets import Subnet

    original = Subnet.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(cls: type, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
        subnet = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        value = cloudformation_json["Properties"].get("MapPublicIpOnLaunch", False)
        subnet.map_public_ip_on_launch = str(value).lower() == "true"
        return subnet

    Subnet.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


@fix
def alb_canonical_hosted_zone() -> None:
    """``Fn::GetAtt [LoadBalancer, CanonicalHostedZoneID]`` is not implemented, so alias records get
    garbage: return the zone ID the emulated ALB itself reports."""
    from moto.elbv2.models import FakeLoadBalancer

    original = FakeLoadBalancer.get_cfn_attribute

    def get_cfn_attribute(self: FakeLoadBalancer, attribute_name: str) -> Any:
        if attribute_name == "CanonicalHostedZoneID":
            return self.canonical_hosted_zone_id
        return original(self, attribute_name)

    FakeLoadBalancer.get_cfn_attribute = get_cfn_attribute


@fix
def elbv2_attributes() -> None:
    """moto ignores LoadBalancerAttributes and TargetGroupAttributes given in a template (access logs,
    deletion protection, idle timeout, stickiness, deregistration delay): apply them after creation."""
    from moto.elbv2.models import FakeLoadBalancer, FakeTargetGroup, elbv2_backends

    def applying(model: type, prop: str, modify: str) -> None:
        original = model.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

        def create_from_cloudformation_json(cls: type, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
            resource = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
            attrs = {a["Key"]: str(a["Value"]) for a in cloudformation_json["Properties"].get(prop, [])}
            if attrs:
                getattr(elbv2_backends[account_id][region_name], modify)(resource.arn, attrs)
            return resource

        model.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)

    applying(FakeLoadBalancer, "LoadBalancerAttributes", "modify_load_balancer_attributes")
    applying(FakeTargetGroup, "TargetGroupAttributes", "modify_target_group_attributes")


@fix
def update_termination_protection() -> None:
    """The UpdateTerminationProtection API is missing (HTTP 500); deploy.py uses it for production."""
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def update(self: CloudFormationResponse) -> ActionResult:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        stack.enable_termination_protection = str(self._get_param("EnableTerminationProtection")).lower() == "true"
        return ActionResult({"StackId": stack.stack_id})

    CloudFormationResponse.update_termination_protection = update


@fix
def kms_key_policy_object() -> None:
    """A KMS key whose KeyPolicy is a JSON object (as templates write it) is stored as a dict, which
    breaks DescribeKey/GetKeyPolicy: store it as the JSON text KMS keeps."""
    import json

    from moto.kms.models import Key

    original = Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(cls: type, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
        props = cloudformation_json["Properties"]
        if isinstance(props.get("KeyPolicy"), dict):
            props["KeyPolicy"] = json.dumps(props["KeyPolicy"])
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    Key.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


# What the emulator knows of each request: it stands in for AWS's HTTPS endpoints, so it counts as TLS.
REQUEST_CONTEXT = {"aws:securetransport": "true"}


def _conditions_hold(condition: dict[str, Any] | None) -> bool:
    """Evaluate Bool/StringEquals conditions against REQUEST_CONTEXT (other operators: not holding)."""
    for operator, checks in (condition or {}).items():
        if operator not in ("Bool", "StringEquals"):
            return False
        for key, expected in checks.items():
            values = [str(v).lower() for v in (expected if isinstance(expected, list) else [expected])]
            if REQUEST_CONTEXT.get(key.lower()) not in values:
                return False
    return True


@fix
def bucket_policy_conditions() -> None:
    """moto ignores Conditions in bucket policies and treats a conditional statement as applying
    always, so a TLS-only policy (Deny when aws:SecureTransport is false) denies every request:
    apply a statement only when its condition holds."""
    import json

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        doc = json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
        statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
        applicable = [{k: v for k, v in s.items() if k != "Condition"} for s in statements if _conditions_hold(s.get("Condition"))]
        if not applicable:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**doc, "Statement": applicable})).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission


@fix
def missing_resource_types() -> None:
    """Resource types moto's CloudFormation ignores (a Ref to them resolves to nothing). Each is
    created in moto's own service backend so the emulated APIs show it."""
    from moto.cloudformation import parsing

    for cache in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cache.cache_clear()
    _define_models()
    for cache in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cache.cache_clear()


def _define_models() -> None:  # noqa: C901 - one small class per resource type
    from moto.acm.models import acm_backends
    from moto.applicationautoscaling.models import applicationautoscaling_backends
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.core.common_models import CloudFormationModel
    from moto.ec2.models import ec2_backends
    from moto.ecs.models import ecs_backends
    from moto.elasticache.models import elasticache_backends
    from moto.s3.models import s3_backends
    from moto.secretsmanager.models import secretsmanager_backends
    from moto.wafv2.models import wafv2_backends

    class Compat:
        """Shared behaviour: a physical ID, named attributes, and update as replace."""

        TYPE = ""

        def __init__(self, physical_id: str, attributes: dict[str, Any] | None = None) -> None:
            self.physical_id = physical_id
            self.attributes = attributes or {}

        @property
        def physical_resource_id(self) -> str:
            return self.physical_id

        def get_cfn_attribute(self, attr: str) -> Any:
            if attr in self.attributes:
                return self.attributes[attr]
            raise UnformattedGetAttTemplateException()

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @classmethod
        def cloudformation_type(cls) -> str:
            return cls.TYPE

        @classmethod
        def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> Any:
            cls.delete_from_cloudformation_json(original_resource.physical_id, cloudformation_json, account_id, region_name)
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> None:
            return None

    def _name(resource_name: str, limit: int) -> str:
        return resource_name.lower()[:limit].rstrip("-")

    class CacheSubnetGroup(Compat, CloudFormationModel):
        TYPE = "AWS::ElastiCache::SubnetGroup"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
            p = cloudformation_json["Properties"]
            name = p.get("CacheSubnetGroupName") or _name(resource_name, 255)
            elasticache_backends[account_id][region_name].create_cache_subnet_group(name, p.get("Description", ""), p["SubnetIds"], None)
            return cls(name)

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> None:
            elasticache_backends[account_id][region_name].cache_subnet_groups.pop(resource_name, None)

    class ReplicationGroup(Compat, CloudFormationModel):
        TYPE = "AWS::ElastiCache::ReplicationGroup"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
            p = cloudformation_json["Properties"]
            rg_id = p.get("ReplicationGroupId") or _name(resource_name, 40)
            args = {
                name: None
                for name in (
                    "global_replication_group_id primary_cluster_id preferred_cache_cluster_azs num_node_groups replicas_per_node_group "
                    "node_group_configuration cache_parameter_group_name cache_security_group_names snapshot_arns snapshot_name "
                    "notification_topic_arn kms_key_id user_group_ids log_delivery_configurations data_tiering_enabled network_type "
                    "ip_discovery transit_encryption_mode cluster_mode serverless_cache_snapshot_name tags"
                ).split()
            }
            group = elasticache_backends[account_id][region_name].create_replication_group(
                replication_group_id=rg_id,
                replication_group_description=p["ReplicationGroupDescription"],
                automatic_failover_enabled=p.get("AutomaticFailoverEnabled"),
                multi_az_enabled=p.get("MultiAZEnabled"),
                num_cache_clusters=int(p.get("NumCacheClusters", 1)),
                cache_node_type=p.get("CacheNodeType"),
                engine=p.get("Engine", "redis"),
                engine_version=p.get("EngineVersion"),
                cache_subnet_group_name=p.get("CacheSubnetGroupName"),
                security_group_ids=p.get("SecurityGroupIds"),
                preferred_maintenance_window=p.get("PreferredMaintenanceWindow"),
                port=int(p.get("Port", 6379)),
                auto_minor_version_upgrade=p.get("AutoMinorVersionUpgrade"),
                snapshot_retention_limit=int(p.get("SnapshotRetentionLimit", 0)),
                snapshot_window=p.get("SnapshotWindow"),
                auth_token=p.get("AuthToken"),
                transit_encryption_enabled=p.get("TransitEncryptionEnabled"),
                at_rest_encryption_enabled=p.get("AtRestEncryptionEnabled"),
                **args,
            )
            node_group = group.node_groups[0]
            return cls(
                rg_id,
                {
                    "PrimaryEndPoint.Address": node_group["primary_endpoint_address"],
                    "PrimaryEndPoint.Port": str(node_group["port"]),
                    "ReaderEndPoint.Address": node_group["reader_endpoint_address"],
                    "ReaderEndPoint.Port": str(node_group["port"]),
                },
            )

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> None:
            backend = elasticache_backends[account_id][region_name]
            if resource_name in backend.replication_groups:
                if cloudformation_json.get("DeletionPolicy") == "Snapshot":  # the final snapshot CloudFormation takes
                    backend.create_snapshot(f"{resource_name}-final", resource_name, None, None, None)
                backend.delete_replication_group(resource_name, None)

    class Secret(Compat, CloudFormationModel):
        TYPE = "AWS::SecretsManager::Secret"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
            p = cloudformation_json["Properties"]
            gen = p.get("GenerateSecretString")
            value = p.get("SecretString")
            if gen is not None:
                alphabet = string.ascii_letters + string.digits + ("" if gen.get("ExcludePunctuation") else "!#$%&()*+,-.:;<=>?[]^_{|}~")
                value = "".join(secrets.choice(alphabet) for _ in range(int(gen.get("PasswordLength", 32))))
            backend = secretsmanager_backends[account_id][region_name]
            name = p.get("Name") or resource_name
            backend.create_secret(name, value, None, p.get("Description"), None, p.get("KmsKeyId"), None, [], False)
            return cls(backend.secrets[name].arn)

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> None:
            backend = secretsmanager_backends[account_id][region_name]
            backend.delete_secret(resource_name, None, True)

    class Certificate(Compat, CloudFormationModel):
        TYPE = "AWS::CertificateManager::Certificate"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
            p = cloudformation_json["Properties"]
            arn = acm_backends[account_id][region_name].request_certificate(p["DomainName"], None, p.get("SubjectAlternativeNames") or [], [])
            return cls(arn)

    class SecurityGroupEgress(Compat, CloudFormationModel):
        TYPE = "AWS::EC2::SecurityGroupEgress"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
            p = cloudformation_json["Properties"]
            ranges = [{"CidrIp": p["CidrIp"], "Description": p.get("Description")}] if p.get("CidrIp") else []
            groups = [{"GroupId": p["DestinationSecurityGroupId"]}] if p.get("DestinationSecurityGroupId") else []
            ec2_backends[account_id][region_name].authorize_security_group_egress(
                p["GroupId"], p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), ranges, source_groups=groups
            )
            return cls(f"{p['GroupId']}-egress-{p.get('FromPort')}")

    class CapacityProviderAssociations(Compat, CloudFormationModel):
        TYPE = "AWS::ECS::ClusterCapacityProviderAssociations"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
            p = cloudformation_json["Properties"]
            strategy = [
                {"capacityProvider": s["CapacityProvider"], "weight": int(s.get("Weight", 0)), "base": int(s.get("Base", 0))}
                for s in p["DefaultCapacityProviderStrategy"]
            ]
            ecs_backends[account_id][region_name].put_cluster_capacity_providers(p["Cluster"], p["CapacityProviders"], strategy)
            return cls(p["Cluster"])

    class ScalableTarget(Compat, CloudFormationModel):
        TYPE = "AWS::ApplicationAutoScaling::ScalableTarget"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
            p = cloudformation_json["Properties"]
            applicationautoscaling_backends[account_id][region_name].register_scalable_target(
                p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"], int(p["MinCapacity"]), int(p["MaxCapacity"]), p.get("RoleARN"), None
            )
            return cls(f"{p['ResourceId']}|{p['ScalableDimension']}|{p['ServiceNamespace']}")

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> None:
            resource_id, dimension, namespace = resource_name.split("|")
            backend = applicationautoscaling_backends[account_id][region_name]
            if resource_id in backend.targets.get(dimension, {}):
                backend.deregister_scalable_target(namespace, resource_id, dimension)

    class ScalingPolicy(Compat, CloudFormationModel):
        TYPE = "AWS::ApplicationAutoScaling::ScalingPolicy"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
            p = cloudformation_json["Properties"]
            resource_id, dimension, namespace = p["ScalingTargetId"].split("|")
            body = {k: v for k, v in p.items() if k.endswith("PolicyConfiguration")}
            config = body.get("TargetTrackingScalingPolicyConfiguration")
            if config:
                config["TargetValue"] = float(config["TargetValue"])
            policy = applicationautoscaling_backends[account_id][region_name].put_scaling_policy(
                p["PolicyName"], namespace, resource_id, dimension, body, p["PolicyType"]
            )
            return cls(policy.policy_arn)

    class BucketPolicy(Compat, CloudFormationModel):
        TYPE = "AWS::S3::BucketPolicy"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
            import json

            p = cloudformation_json["Properties"]
            document = p["PolicyDocument"] if isinstance(p["PolicyDocument"], str) else json.dumps(p["PolicyDocument"])
            s3_backends[account_id]["aws"].put_bucket_policy(p["Bucket"], document.encode())
            return cls(p["Bucket"])

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> None:
            backend = s3_backends[account_id]["aws"]
            if resource_name in backend.buckets:
                backend.delete_bucket_policy(resource_name)

    class WebAcl(Compat, CloudFormationModel):
        TYPE = "AWS::WAFv2::WebACL"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
            p = cloudformation_json["Properties"]
            acl = wafv2_backends[account_id][region_name].create_web_acl(
                p.get("Name") or resource_name, p["VisibilityConfig"], p["DefaultAction"], p["Scope"], p.get("Description", ""),
                [], p.get("Rules", []), None, None, None, None, None,
            )
            return cls(f"{acl.name}|{acl.id}|{p['Scope']}", {"Arn": acl.arn, "Id": acl.id})

    class WebAclAssociation(Compat, CloudFormationModel):
        TYPE = "AWS::WAFv2::WebACLAssociation"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
            p = cloudformation_json["Properties"]
            wafv2_backends[account_id][region_name].associate_web_acl(p["WebACLArn"], p["ResourceArn"])
            return cls(f"{p['WebACLArn']}|{p['ResourceArn']}")

    class WafLogging(Compat, CloudFormationModel):
        TYPE = "AWS::WAFv2::LoggingConfiguration"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
            p = cloudformation_json["Properties"]
            wafv2_backends[account_id][region_name].put_logging_configuration(p["ResourceArn"], p["LogDestinationConfigs"], None, False, {})
            return cls(p["ResourceArn"])


@fix
def elbv2_full_names() -> None:
    """``Fn::GetAtt [LoadBalancer, LoadBalancerFullName]`` raises NotImplementedError and target groups
    have no ``TargetGroupFullName``: return app/<name>/<id> and targetgroup/<name>/<id> from the ARNs,
    as AWS does (the CloudWatch dimensions the monitoring stack alarms on)."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.elbv2.models import FakeLoadBalancer, FakeTargetGroup

    lb_original = FakeLoadBalancer.get_cfn_attribute

    def lb_attribute(self: FakeLoadBalancer, attribute_name: str) -> Any:
        if attribute_name == "LoadBalancerFullName":
            return self.arn.split(":loadbalancer/", 1)[1]
        return lb_original(self, attribute_name)

    def tg_attribute(self: FakeTargetGroup, attribute_name: str) -> Any:
        if attribute_name == "TargetGroupFullName":
            return self.arn.rsplit(":", 1)[1]
        raise UnformattedGetAttTemplateException()  # moto's target group has no attributes at all

    FakeLoadBalancer.get_cfn_attribute = lb_attribute
    FakeTargetGroup.get_cfn_attribute = tg_attribute


@fix
def monitoring_resource_types() -> None:
    """moto's CloudFormation ignores AWS::CloudWatch::Alarm, AWS::SNS::TopicPolicy and
    AWS::SNS::Subscription (a Ref to them resolves to nothing, so ECS would get no alarm names): create
    them in moto's CloudWatch and SNS backends, so DescribeAlarms, GetTopicAttributes and
    ListSubscriptionsByTopic show what the monitoring stack declares. Self-contained on purpose."""
    import json

    from moto.cloudformation import parsing
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat, cloudwatch_backends
    from moto.core.common_models import CloudFormationModel
    from moto.sns.models import sns_backends

    class Model:
        """Mixin: a physical ID, named attributes, update as replace."""

        TYPE = ""
        NAME_PROPERTY = ""

        def __init__(self, physical_id: str, attributes: dict[str, Any] | None = None) -> None:
            self.physical_id = physical_id
            self.attributes = attributes or {}

        @property
        def physical_resource_id(self) -> str:
            return self.physical_id

        def get_cfn_attribute(self, attr: str) -> Any:
            if attr in self.attributes:
                return self.attributes[attr]
            raise UnformattedGetAttTemplateException()

        @classmethod
        def cloudformation_name_type(cls) -> str:
            return cls.NAME_PROPERTY

        @classmethod
        def cloudformation_type(cls) -> str:
            return cls.TYPE

        @classmethod
        def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> Any:
            cls.delete_from_cloudformation_json(original_resource.physical_id, cloudformation_json, account_id, region_name)
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    def queries(metrics: list[dict[str, Any]]) -> list[MetricDataQuery]:
        out = []
        for q in metrics:
            stat = q.get("MetricStat")
            metric_stat = None
            if stat:
                m = stat["Metric"]
                dims = [Dimension(d["Name"], d["Value"]) for d in m.get("Dimensions", [])]
                metric_stat = MetricStat(Metric(m["MetricName"], m["Namespace"], dims), stat.get("Period"), stat.get("Stat"), stat.get("Unit"))
            out.append(MetricDataQuery(q["Id"], q.get("Label"), q.get("Period"), q.get("ReturnData"), q.get("Expression"), metric_stat))
        return out

    class Alarm(Model, CloudFormationModel):
        TYPE = "AWS::CloudWatch::Alarm"
        NAME_PROPERTY = "AlarmName"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
            p = cloudformation_json["Properties"]
            number = (lambda v, f=int: None if v is None else f(v))  # noqa: E731 - parameters arrive as strings
            alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
                name=p.get("AlarmName") or resource_name,
                namespace=p.get("Namespace"),
                metric_name=p.get("MetricName"),
                comparison_operator=p["ComparisonOperator"],
                evaluation_periods=number(p["EvaluationPeriods"]),
                period=number(p.get("Period")),
                threshold=number(p.get("Threshold"), float),
                statistic=p.get("Statistic"),
                description=p.get("AlarmDescription"),
                dimensions=p.get("Dimensions", []),
                alarm_actions=p.get("AlarmActions", []),
                metric_data_queries=queries(p.get("Metrics", [])),
                datapoints_to_alarm=number(p.get("DatapointsToAlarm")),
                extended_statistic=p.get("ExtendedStatistic"),
                ok_actions=p.get("OKActions", []),
                insufficient_data_actions=p.get("InsufficientDataActions", []),
                unit=p.get("Unit"),
                actions_enabled=str(p.get("ActionsEnabled", True)).lower() == "true",
                treat_missing_data=p.get("TreatMissingData"),
            )
            return cls(alarm.name, {"Arn": alarm.alarm_arn})

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> None:
            cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])

    class TopicPolicy(Model, CloudFormationModel):
        TYPE = "AWS::SNS::TopicPolicy"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
            p = cloudformation_json["Properties"]
            document = p["PolicyDocument"] if isinstance(p["PolicyDocument"], str) else json.dumps(p["PolicyDocument"])
            for arn in p["Topics"]:
                sns_backends[account_id][region_name].set_topic_attribute(arn, "policy", document)  # the attribute as SetTopicAttributes stores it
            return cls("|".join(p["Topics"]))

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> None:
            return None  # the topic keeps its last policy, as it does when CloudFormation deletes the policy resource

    class Subscription(Model, CloudFormationModel):
        TYPE = "AWS::SNS::Subscription"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
            p = cloudformation_json["Properties"]
            subscription = sns_backends[account_id][region_name].subscribe(p["TopicArn"], p["Endpoint"], p["Protocol"])
            return cls(subscription.arn)

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> None:
            sns_backends[account_id][region_name].unsubscribe(resource_name)

    for cache in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cache.cache_clear()
