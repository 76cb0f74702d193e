"""One scenario per emulator fix: each passes with the fix and fails (raises) without it.

Each runs over HTTP with boto3 against a fresh emulator (moto reset, then the fix set applied, as
Emulator.start does) in the test's own process: once with every fix and once with every fix but its own
(tests/test_emulator_fixes.py). ``python -m tests.compat_scenarios NAME [FIX ...]`` runs one by hand.
"""

from __future__ import annotations

import json
import logging
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from cylink_deploy.emulator import FAKE_CREDENTIALS, LOOPBACK, apply
from cylink_deploy.emulator.server import _listening_server

from .conftest import credentials

REGION = "ap-northeast-1"
ENDPOINT: str | None = None  # set by serving()
_SERVERS: list[str] = []  # the endpoint of emulator_server()'s server while it runs
# One attempt: the emulator is deterministic, so retrying its errors (a 500 from a missing fix) only
# waits out botocore's backoff before the same failure.
NO_RETRIES = Config(retries={"total_max_attempts": 1})
SCENARIOS: dict[str, Callable[[], None]] = {}


def scenario(func: Callable[[], None]) -> Callable[[], None]:
    SCENARIOS[func.__name__] = func
    return func


def c(service: str) -> Any:
    """A client of the emulator the running scenario talks to."""
    # any service by name: the stubs type only literal names, so this client is Any
    return boto3.client(  # type: ignore[call-overload]
        service, region_name=REGION, endpoint_url=ENDPOINT, config=NO_RETRIES, **credentials(FAKE_CREDENTIALS)
    )


def create(
    name: str, resources: dict[str, Any], outputs: dict[str, Any] | None = None, **template: Any
) -> dict[str, str]:
    body = {"Resources": resources, "Outputs": outputs or {}, **template}
    c("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(body), Capabilities=["CAPABILITY_IAM"])
    stack = c("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}


def vpc_resources() -> dict[str, Any]:
    return {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.9.0.0/16"}},
        **{
            f"Subnet{i}": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {
                    "VpcId": {"Ref": "Vpc"},
                    "CidrBlock": f"10.9.{i}.0/24",
                    "AvailabilityZone": {"Fn::Select": [i - 1, {"Fn::GetAZs": ""}]},
                    "MapPublicIpOnLaunch": public,
                },
            }
            for i, public in ((1, False), (2, True))
        },
        "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "t", "VpcId": {"Ref": "Vpc"}}},
    }


@scenario
def nested_stack_outputs() -> None:
    c("s3").create_bucket(Bucket="tpl-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    child = {"Resources": {"T": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"X": {"Value": "hello"}}}
    c("s3").put_object(Bucket="tpl-bucket", Key="child.json", Body=json.dumps(child))
    url = f"https://tpl-bucket.s3.{REGION}.amazonaws.com/child.json"
    outputs = create(
        "nested",
        {"Child": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": url}}},
        {"Y": {"Value": {"Fn::GetAtt": ["Child", "Outputs.X"]}}},
    )
    assert outputs == {"Y": "hello"}, outputs


@scenario
def change_set_refreshes_stack() -> None:
    cfn = c("cloudformation")
    body = {
        "Parameters": {"P": {"Type": "String"}},
        "Resources": {"R": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Fn::Sub": "/cs/${P}"}}}},
        "Outputs": {"O": {"Value": {"Ref": "P"}}},
    }
    cs = cfn.create_change_set(
        StackName="viacs",
        ChangeSetName="c1",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(body),
        Parameters=[{"ParameterKey": "P", "ParameterValue": "one"}],
    )
    cfn.execute_change_set(ChangeSetName=cs["Id"])
    stack = cfn.describe_stacks(StackName="viacs")["Stacks"][0]
    assert stack.get("Outputs") and stack["Outputs"][0]["OutputValue"] == "one", stack.get("Outputs")


@scenario
def change_set_lists_parameter_changes() -> None:
    cfn = c("cloudformation")
    body = {
        "Parameters": {"P": {"Type": "String"}},
        "Conditions": {"Never": {"Fn::Equals": [{"Ref": "P"}, "never"]}},
        "Resources": {
            "R": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Ref": "P"}}},
            "Off": {"Type": "AWS::SNS::Topic", "Condition": "Never"},
        },
    }
    cs = cfn.create_change_set(
        StackName="params",
        ChangeSetName="c1",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(body),
        Parameters=[{"ParameterKey": "P", "ParameterValue": "one"}],
    )
    listed = [
        ch["ResourceChange"]["LogicalResourceId"] for ch in cfn.describe_change_set(ChangeSetName=cs["Id"])["Changes"]
    ]
    assert listed == ["R"], listed
    cfn.execute_change_set(ChangeSetName=cs["Id"])
    cs = cfn.create_change_set(
        StackName="params",
        ChangeSetName="c2",
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(body),
        Parameters=[{"ParameterKey": "P", "ParameterValue": "two"}],
    )
    changes = [
        (ch["ResourceChange"]["Action"], ch["ResourceChange"]["LogicalResourceId"])
        for ch in cfn.describe_change_set(ChangeSetName=cs["Id"])["Changes"]
    ]
    assert changes == [("Modify", "R")], changes


@scenario
def resource_events() -> None:
    c("s3").create_bucket(Bucket="tpl-events", CreateBucketConfiguration={"LocationConstraint": REGION})
    child = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    c("s3").put_object(Bucket="tpl-events", Key="child.json", Body=json.dumps(child))
    url = f"https://tpl-events.s3.{REGION}.amazonaws.com/child.json"
    create("events", {"Child": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": url}}})
    cfn = c("cloudformation")
    root = [
        (e["LogicalResourceId"], e["ResourceStatus"])
        for e in cfn.describe_stack_events(StackName="events")["StackEvents"]
    ]
    assert ("Child", "CREATE_COMPLETE") in root, root
    nested = next(
        e["PhysicalResourceId"]
        for e in cfn.describe_stack_events(StackName="events")["StackEvents"]
        if e["LogicalResourceId"] == "Child" and e.get("PhysicalResourceId")
    )
    inner = [
        (e["LogicalResourceId"], e["ResourceStatus"])
        for e in cfn.describe_stack_events(StackName=nested)["StackEvents"]
    ]
    assert ("Topic", "CREATE_IN_PROGRESS") in inner and ("Topic", "CREATE_COMPLETE") in inner, inner


@scenario
def hosted_zone_name_servers() -> None:
    outputs = create(
        "zone",
        {"Zone": {"Type": "AWS::Route53::HostedZone", "Properties": {"Name": "example.org"}}},
        {"Ns": {"Value": {"Fn::Join": [",", {"Fn::GetAtt": ["Zone", "NameServers"]}]}}},
    )
    assert "awsdns" in outputs.get("Ns", ""), outputs


@scenario
def subnet_public_ip_on_launch() -> None:
    create("subnets", vpc_resources())
    subnets = {
        s["CidrBlock"]: s["MapPublicIpOnLaunch"]
        for s in c("ec2").describe_subnets()["Subnets"]
        if s["CidrBlock"].startswith("10.9.")
    }
    assert subnets == {"10.9.1.0/24": False, "10.9.2.0/24": True}, subnets


@scenario
def get_azs_lists_the_regions_zones() -> None:
    outputs = create(
        "azs", {"T": {"Type": "AWS::SNS::Topic"}}, {"Azs": {"Value": {"Fn::Join": [",", {"Fn::GetAZs": ""}]}}}
    )
    assert outputs["Azs"] == f"{REGION}a,{REGION}c,{REGION}d", outputs


@scenario
def alb_canonical_hosted_zone() -> None:
    resources = {
        **vpc_resources(),
        "Alb": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {"Subnets": [{"Ref": "Subnet1"}, {"Ref": "Subnet2"}], "SecurityGroups": [{"Ref": "Sg"}]},
        },
    }
    outputs = create("alb", resources, {"Zone": {"Value": {"Fn::GetAtt": ["Alb", "CanonicalHostedZoneID"]}}})
    (alb,) = c("elbv2").describe_load_balancers()["LoadBalancers"]
    assert outputs.get("Zone") == alb["CanonicalHostedZoneId"], outputs


@scenario
def elbv2_attributes() -> None:
    resources = {
        **vpc_resources(),
        "Alb": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {
                "Subnets": [{"Ref": "Subnet1"}, {"Ref": "Subnet2"}],
                "SecurityGroups": [{"Ref": "Sg"}],
                "LoadBalancerAttributes": [
                    {"Key": "idle_timeout.timeout_seconds", "Value": "3600"},
                    {"Key": "deletion_protection.enabled", "Value": "true"},
                ],
            },
        },
        "Tg": {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {
                "VpcId": {"Ref": "Vpc"},
                "Port": 3001,
                "Protocol": "HTTP",
                "TargetType": "ip",
                "TargetGroupAttributes": [
                    {"Key": "stickiness.enabled", "Value": "true"},
                    {"Key": "stickiness.type", "Value": "lb_cookie"},
                ],
            },
        },
    }
    create("attrs", resources)
    elb = c("elbv2")
    (alb,) = elb.describe_load_balancers()["LoadBalancers"]
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_load_balancer_attributes(LoadBalancerArn=alb["LoadBalancerArn"])["Attributes"]
    }
    assert attrs["idle_timeout.timeout_seconds"] == "3600" and attrs["deletion_protection.enabled"] == "true", attrs
    (tg,) = elb.describe_target_groups()["TargetGroups"]
    tg_attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])["Attributes"]
    }
    assert tg_attrs["stickiness.enabled"] == "true", tg_attrs


@scenario
def elbv2_attribute_updates() -> None:
    template: dict[str, Any] = {
        "Parameters": {"Protected": {"Type": "String"}},
        "Resources": {
            **vpc_resources(),
            "Alb": {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {
                    "Subnets": [{"Ref": "Subnet1"}, {"Ref": "Subnet2"}],
                    "SecurityGroups": [{"Ref": "Sg"}],
                    "LoadBalancerAttributes": [{"Key": "deletion_protection.enabled", "Value": {"Ref": "Protected"}}],
                },
            },
        },
    }
    cfn, elb = c("cloudformation"), c("elbv2")
    cfn.create_stack(
        StackName="attrupd",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Protected", "ParameterValue": "true"}],
    )
    cfn.update_stack(
        StackName="attrupd",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Protected", "ParameterValue": "false"}],
    )
    (alb,) = [
        lb for lb in elb.describe_load_balancers()["LoadBalancers"] if lb["LoadBalancerName"].startswith("attrupd")
    ]
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_load_balancer_attributes(LoadBalancerArn=alb["LoadBalancerArn"])["Attributes"]
    }
    assert attrs["deletion_protection.enabled"] == "false", attrs  # lifted by the update, as on AWS


@scenario
def kms_key_policy_object() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    outputs = create(
        "key",
        {"Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": policy, "EnableKeyRotation": True}}},
        {"Id": {"Value": {"Ref": "Key"}}},
    )
    kms = c("kms")
    assert kms.describe_key(KeyId=outputs["Id"])["KeyMetadata"]["KeyId"] == outputs["Id"]
    assert json.loads(kms.get_key_policy(KeyId=outputs["Id"], PolicyName="default")["Policy"]) == policy


@scenario
def iam_service_linked_role_names() -> None:
    iam = c("iam")
    iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    role = iam.get_role(RoleName="AWSServiceRoleForECS")["Role"]  # AWS's name, as doctor asks for it
    assert role["Arn"].endswith("/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"), role["Arn"]
    try:
        iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    except ClientError as exc:  # AWS: InvalidInput "... has been taken in this account"
        assert "has been taken" in str(exc), exc
    else:
        raise AssertionError("a second service-linked role of one service was created")


@scenario
def kms_key_tags() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    outputs = create(
        "tagged-key",
        {
            "Key": {
                "Type": "AWS::KMS::Key",
                "Properties": {"KeyPolicy": policy, "Tags": [{"Key": "cylink:data-key", "Value": "true"}]},
            }
        },
        {"Id": {"Value": {"Ref": "Key"}}},
    )
    tags = c("kms").list_resource_tags(KeyId=outputs["Id"])["Tags"]
    assert {"TagKey": "cylink:data-key", "TagValue": "true"} in tags, tags


@scenario
def update_termination_protection() -> None:
    create("protected", {"T": {"Type": "AWS::SNS::Topic"}})
    c("cloudformation").update_termination_protection(StackName="protected", EnableTerminationProtection=True)
    assert (
        c("cloudformation").describe_stacks(StackName="protected")["Stacks"][0]["EnableTerminationProtection"] is True
    )


@scenario
def bucket_policy_conditions() -> None:
    from cylink_deploy.cfn.artifacts import ensure_bucket

    # the real hardening, TLS-only policy included (123456789012: moto's account, the owner)
    ensure_bucket(c("s3"), "tls-only-bucket", REGION, "123456789012")
    c("s3").put_object(Bucket="tls-only-bucket", Key="k", Body=b"x")
    assert c("s3").get_object(Bucket="tls-only-bucket", Key="k")["Body"].read() == b"x"


def subnet_group_and_alb() -> dict[str, Any]:
    """A VPC with an ALB: what the ElastiCache, WAF and bucket-policy scenarios hang off."""
    return {
        **vpc_resources(),
        "Alb": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {"Subnets": [{"Ref": "Subnet1"}, {"Ref": "Subnet2"}], "SecurityGroups": [{"Ref": "Sg"}]},
        },
    }


@scenario
def security_group_egress() -> None:
    create(
        "egress",
        {
            **vpc_resources(),
            "Egress": {
                "Type": "AWS::EC2::SecurityGroupEgress",
                "Properties": {
                    "GroupId": {"Fn::GetAtt": ["Sg", "GroupId"]},
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "CidrIp": "10.1.0.0/16",
                },
            },
        },
    )
    sg = [g for g in c("ec2").describe_security_groups()["SecurityGroups"] if g["Description"] == "t"][0]
    assert any(p.get("FromPort") == 443 for p in sg["IpPermissionsEgress"]), sg["IpPermissionsEgress"]


@scenario
def secretsmanager_secret() -> None:
    outputs = create(
        "secret",
        {
            "Secret": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {"GenerateSecretString": {"PasswordLength": 40, "ExcludePunctuation": True}},
            }
        },
        {"Secret": {"Value": {"Ref": "Secret"}}},
    )
    assert len(c("secretsmanager").get_secret_value(SecretId=outputs["Secret"])["SecretString"]) == 40


@scenario
def secretsmanager_current_stage() -> None:
    sm = c("secretsmanager")
    arn = sm.create_secret(Name="rotated", SecretString="old")["ARN"]
    old = next(
        v for v, stages in sm.describe_secret(SecretId=arn)["VersionIdsToStages"].items() if "AWSCURRENT" in stages
    )
    new = sm.put_secret_value(SecretId=arn, SecretString="new", VersionStages=["AWSPENDING"])["VersionId"]
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "old"
    sm.update_secret_version_stage(
        SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=new, RemoveFromVersionId=old
    )
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "new"
    assert sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"] == "old"


@scenario
def elasticache_redis() -> None:
    resources = {
        **vpc_resources(),
        "CacheSubnets": {
            "Type": "AWS::ElastiCache::SubnetGroup",
            "Properties": {"Description": "d", "SubnetIds": [{"Ref": "Subnet1"}, {"Ref": "Subnet2"}]},
        },
        "Redis": {
            "Type": "AWS::ElastiCache::ReplicationGroup",
            "DeletionPolicy": "Snapshot",
            "Properties": {
                "ReplicationGroupDescription": "r",
                "Engine": "redis",
                "CacheNodeType": "cache.t3.medium",
                "NumCacheClusters": 2,
                "CacheSubnetGroupName": {"Ref": "CacheSubnets"},
                "TransitEncryptionEnabled": True,
                "AtRestEncryptionEnabled": True,
            },
        },
    }
    outputs = create("redis", resources, {"Redis": {"Value": {"Fn::GetAtt": ["Redis", "PrimaryEndPoint.Address"]}}})
    (group,) = c("elasticache").describe_replication_groups()["ReplicationGroups"]
    assert (
        outputs["Redis"] == group["NodeGroups"][0]["PrimaryEndpoint"]["Address"] and group["TransitEncryptionEnabled"]
    )
    c("cloudformation").delete_stack(StackName="redis")  # deletion goes through the same models
    assert [g["Status"] for g in c("elasticache").describe_replication_groups()["ReplicationGroups"]] == [
        "deleting"
    ]  # as AWS: asynchronous
    assert [s["SnapshotName"] for s in c("elasticache").describe_snapshots()["Snapshots"]] == [
        f"{group['ReplicationGroupId']}-final"
    ]


@scenario
def acm_certificate() -> None:
    outputs = create(
        "cert",
        {
            "Cert": {
                "Type": "AWS::CertificateManager::Certificate",
                "Properties": {
                    "DomainName": "example.net",
                    "SubjectAlternativeNames": ["www.example.net"],
                    "ValidationMethod": "DNS",
                },
            }
        },
        {"Cert": {"Value": {"Ref": "Cert"}}},
    )
    assert c("acm").describe_certificate(CertificateArn=outputs["Cert"])["Certificate"]["DomainName"] == "example.net"


def ecs_service() -> dict[str, Any]:
    return {
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "compat"}},
        "Task": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": "compat",
                "ContainerDefinitions": [{"Name": "app", "Image": "nginx", "Memory": 128}],
            },
        },
        "Service": {
            "Type": "AWS::ECS::Service",
            "Properties": {
                "ServiceName": "svc",
                "Cluster": {"Ref": "Cluster"},
                "TaskDefinition": {"Ref": "Task"},
                "DesiredCount": 2,
            },
        },
    }


@scenario
def ecs_capacity_providers() -> None:
    create(
        "providers",
        {
            **ecs_service(),
            "Providers": {
                "Type": "AWS::ECS::ClusterCapacityProviderAssociations",
                "Properties": {
                    "Cluster": {"Ref": "Cluster"},
                    "CapacityProviders": ["FARGATE", "FARGATE_SPOT"],
                    "DefaultCapacityProviderStrategy": [
                        {"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1},
                        {"CapacityProvider": "FARGATE_SPOT", "Weight": 4},
                    ],
                },
            },
        },
    )
    assert c("ecs").describe_clusters(clusters=["compat"])["clusters"][0]["capacityProviders"] == [
        "FARGATE",
        "FARGATE_SPOT",
    ]


@scenario
def application_autoscaling() -> None:
    create(
        "scaling",
        {
            **ecs_service(),
            "Target": {
                "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
                "Properties": {
                    "ServiceNamespace": "ecs",
                    "ScalableDimension": "ecs:service:DesiredCount",
                    "ResourceId": {"Fn::Sub": "service/compat/${Service.Name}"},
                    "MinCapacity": 2,
                    "MaxCapacity": 10,
                    "ScheduledActions": [
                        {
                            "ScheduledActionName": "event1-scale-up",
                            "Schedule": "at(2030-01-01T09:00:00)",
                            "Timezone": "Etc/UTC",
                            "ScalableTargetAction": {"MinCapacity": "8", "MaxCapacity": "10"},
                        },
                        {
                            "Fn::If": [
                                "Never",
                                {"ScheduledActionName": "x", "Schedule": "at(2030-01-01T10:00:00)"},
                                {"Ref": "AWS::NoValue"},
                            ]
                        },
                    ],
                },
            },
            "Policy": {
                "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
                "Properties": {
                    "PolicyName": "cpu",
                    "PolicyType": "TargetTrackingScaling",
                    "ScalingTargetId": {"Ref": "Target"},
                    "TargetTrackingScalingPolicyConfiguration": {
                        "TargetValue": 70,
                        "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
                    },
                },
            },
        },
        Conditions={"Never": {"Fn::Equals": ["a", "b"]}},
    )
    scaling = c("application-autoscaling")
    assert [t["MaxCapacity"] for t in scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]] == [
        10
    ]
    assert scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"][0]["PolicyName"] == "cpu"
    actions = scaling.describe_scheduled_actions(ServiceNamespace="ecs")["ScheduledActions"]
    assert [(a["ScheduledActionName"], a["Schedule"], a["ScalableTargetAction"]) for a in actions] == [
        ("event1-scale-up", "at(2030-01-01T09:00:00)", {"MinCapacity": 8, "MaxCapacity": 10})
    ]
    c("cloudformation").delete_stack(StackName="scaling")  # a deregistered target's actions go with it
    assert scaling.describe_scheduled_actions(ServiceNamespace="ecs")["ScheduledActions"] == []


@scenario
def ecs_service_desired_count() -> None:
    """No DesiredCount (auto scaling owns it): ECS starts 1 task, the scalable target raises it to its minimum."""
    template = ecs_service()
    del template["Service"]["Properties"]["DesiredCount"]
    target = {
        "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
        "Properties": {
            "ServiceNamespace": "ecs",
            "ScalableDimension": "ecs:service:DesiredCount",
            "ResourceId": {"Fn::Sub": "service/compat/${Service.Name}"},
            "MinCapacity": 3,
            "MaxCapacity": 10,
        },
    }
    create("desired", {**template, "Target": target})
    (service,) = c("ecs").describe_services(cluster="compat", services=["svc"])["services"]
    assert service["desiredCount"] == 3, service["desiredCount"]


@scenario
def s3_bucket_policy() -> None:
    create(
        "policy",
        {
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "compat-logs"}},
            "BucketPolicy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {
                    "Bucket": {"Ref": "Bucket"},
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
                                "Action": "s3:PutObject",
                                "Resource": "arn:aws:s3:::compat-logs/*",
                            }
                        ],
                    },
                },
            },
        },
    )
    assert "logdelivery" in c("s3").get_bucket_policy(Bucket="compat-logs")["Policy"]


@scenario
def wafv2_web_acl() -> None:
    create(
        "waf",
        {
            **subnet_group_and_alb(),
            "Acl": {
                "Type": "AWS::WAFv2::WebACL",
                "Properties": {
                    "Name": "compat",
                    "Scope": "REGIONAL",
                    "DefaultAction": {"Allow": {}},
                    "VisibilityConfig": {
                        "CloudWatchMetricsEnabled": True,
                        "MetricName": "m",
                        "SampledRequestsEnabled": True,
                    },
                    "Rules": [],
                },
            },
            "AclAssociation": {
                "Type": "AWS::WAFv2::WebACLAssociation",
                "Properties": {"ResourceArn": {"Ref": "Alb"}, "WebACLArn": {"Fn::GetAtt": ["Acl", "Arn"]}},
            },
            "AclLogs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "aws-waf-logs-compat"}},
            "AclLogging": {
                "Type": "AWS::WAFv2::LoggingConfiguration",
                "Properties": {
                    "ResourceArn": {"Fn::GetAtt": ["Acl", "Arn"]},
                    "LogDestinationConfigs": [{"Fn::GetAtt": ["AclLogs", "Arn"]}],
                },
            },
        },
    )
    (alb,) = c("elbv2").describe_load_balancers()["LoadBalancers"]
    acl = c("wafv2").get_web_acl_for_resource(ResourceArn=alb["LoadBalancerArn"])["WebACL"]
    assert c("wafv2").get_logging_configuration(ResourceArn=acl["ARN"])["LoggingConfiguration"]["LogDestinationConfigs"]
    c("cloudformation").delete_stack(StackName="waf")  # gone with its stack, so a re-created stack can use the name
    assert c("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"] == []


@scenario
def elbv2_full_names() -> None:
    resources = {
        **vpc_resources(),
        "Alb": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {"Subnets": [{"Ref": "Subnet1"}, {"Ref": "Subnet2"}], "SecurityGroups": [{"Ref": "Sg"}]},
        },
        "Tg": {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {"VpcId": {"Ref": "Vpc"}, "Port": 3001, "Protocol": "HTTP", "TargetType": "ip"},
        },
    }
    outputs = create(
        "fullnames",
        resources,
        {
            "Lb": {"Value": {"Fn::GetAtt": ["Alb", "LoadBalancerFullName"]}},
            "Tg": {"Value": {"Fn::GetAtt": ["Tg", "TargetGroupFullName"]}},
        },
    )
    (alb,) = c("elbv2").describe_load_balancers()["LoadBalancers"]
    (tg,) = c("elbv2").describe_target_groups()["TargetGroups"]
    assert outputs.get("Lb") == alb["LoadBalancerArn"].split(":loadbalancer/")[1] and outputs["Lb"].startswith(
        "app/"
    ), outputs
    assert outputs.get("Tg") == tg["TargetGroupArn"].rsplit(":", 1)[1] and outputs["Tg"].startswith("targetgroup/"), (
        outputs
    )


@scenario
def monitoring_resource_types() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": {"Ref": "Topic"},
            }
        ],
    }
    math = [
        {
            "Id": "errors",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/ApplicationELB",
                    "MetricName": "HTTPCode_Target_5XX_Count",
                    "Dimensions": [{"Name": "LoadBalancer", "Value": "app/x/1"}],
                },
                "Stat": "Sum",
                "Period": 60,
            },
        },
        {"Id": "rate", "Expression": "100 * errors", "ReturnData": True},
    ]
    resources = {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "compat-alarms"}},
        "Policy": {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": policy},
        },
        "Mail": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {"TopicArn": {"Ref": "Topic"}, "Protocol": "email", "Endpoint": "oncall@example.com"},
        },
        "Plain": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": "compat-plain",
                "AlarmDescription": "d",
                "Namespace": "AWS/ECS",
                "MetricName": "CPUUtilization",
                "Statistic": "Average",
                "Period": 300,
                "EvaluationPeriods": "3",
                "Threshold": "85",
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": "Topic"}],
                "OKActions": [{"Ref": "Topic"}],
            },
        },
        "Math": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": "compat-math",
                "Metrics": math,
                "EvaluationPeriods": 3,
                "Threshold": 5,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "breaching",
                "AlarmActions": [{"Ref": "Topic"}],
            },
        },
    }
    outputs = create(
        "monitoring",
        resources,
        {
            "Names": {"Value": {"Fn::Join": [",", [{"Ref": "Plain"}, {"Ref": "Math"}]]}},
            "Arn": {"Value": {"Fn::GetAtt": ["Math", "Arn"]}},
        },
    )
    assert outputs.get("Names") == "compat-plain,compat-math", outputs
    alarms = {a["AlarmName"]: a for a in c("cloudwatch").describe_alarms()["MetricAlarms"]}
    (topic,) = [t["TopicArn"] for t in c("sns").list_topics()["Topics"] if t["TopicArn"].endswith(":compat-alarms")]
    assert alarms["compat-plain"]["Threshold"] == 85.0 and alarms["compat-plain"]["EvaluationPeriods"] == 3
    assert (
        alarms["compat-plain"]["AlarmActions"] == [topic]
        and alarms["compat-plain"]["TreatMissingData"] == "notBreaching"
    )
    assert alarms["compat-math"]["AlarmArn"] == outputs["Arn"] and [
        m["Id"] for m in alarms["compat-math"]["Metrics"]
    ] == ["errors", "rate"]
    assert json.loads(c("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])["Statement"][0][
        "Principal"
    ] == {"Service": "cloudwatch.amazonaws.com"}
    assert [s["Endpoint"] for s in c("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] == [
        "oncall@example.com"
    ]
    c("cloudformation").delete_stack(StackName="monitoring")
    assert c("cloudwatch").describe_alarms()["MetricAlarms"] == []


@scenario
def alarms_start_insufficient_data() -> None:
    cw = c("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="fresh",
        MetricName="CPUUtilization",
        Namespace="AWS/ECS",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    (alarm,) = cw.describe_alarms(AlarmNames=["fresh"])["MetricAlarms"]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA", alarm["StateValue"]


@scenario
def describe_alarms_combines_filters() -> None:
    cw = c("cloudwatch")
    for name in ("app-a", "app-b", "other-a"):
        cw.put_metric_alarm(
            AlarmName=name,
            MetricName="CPUUtilization",
            Namespace="AWS/ECS",
            Statistic="Average",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )
    cw.set_alarm_state(AlarmName="app-b", StateValue="ALARM", StateReason="test")
    cw.set_alarm_state(AlarmName="other-a", StateValue="ALARM", StateReason="test")
    found = [a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix="app-", StateValue="ALARM")["MetricAlarms"]]
    assert found == ["app-b"], found


@scenario
def retain_except_on_create() -> None:
    create(
        "keepme",
        {
            "Logs": {
                "Type": "AWS::Logs::LogGroup",
                "DeletionPolicy": "RetainExceptOnCreate",
                "Properties": {"LogGroupName": "/keep/me"},
            }
        },
    )
    c("cloudformation").delete_stack(StackName="keepme")
    groups = [g["logGroupName"] for g in c("logs").describe_log_groups(logGroupNamePrefix="/keep/")["logGroups"]]
    assert groups == ["/keep/me"], groups


def upload(bucket: str, key: str, template: dict[str, Any]) -> str:
    """Put a child template in S3 (the emulator's) and return its TemplateURL."""
    s3 = c("s3")
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(template))
    return f"https://{bucket}.s3.{REGION}.amazonaws.com/{key}"


def change_set(
    stack: str, name: str, kind: str, body: dict[str, Any], parameters: list[dict[str, Any]]
) -> dict[str, Any]:
    """Create a change set and return its description."""
    cfn = c("cloudformation")
    created = cfn.create_change_set(
        StackName=stack, ChangeSetName=name, ChangeSetType=kind, TemplateBody=json.dumps(body), Parameters=parameters
    )
    return cfn.describe_change_set(ChangeSetName=created["Id"])


def p(key: str, value: str | None = None) -> dict[str, Any]:
    """A Parameters entry: a value, or UsePreviousValue when ``value`` is None."""
    return (
        {"ParameterKey": key, "ParameterValue": value}
        if value is not None
        else {"ParameterKey": key, "UsePreviousValue": True}
    )


@scenario
def nested_stack_updates_in_place() -> None:
    child = {
        "Parameters": {"Days": {"Type": "Number"}},
        "Resources": {
            "Logs": {
                "Type": "AWS::Logs::LogGroup",
                "DeletionPolicy": "Retain",
                "Properties": {"LogGroupName": "/nested/named", "RetentionInDays": {"Ref": "Days"}},
            }
        },
        "Outputs": {"Days": {"Value": {"Ref": "Days"}}},
    }
    url = upload("tpl-update", "child.json", child)
    root = {
        "Parameters": {"Days": {"Type": "Number"}},
        "Resources": {
            "Child": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {"TemplateURL": url, "Parameters": {"Days": {"Ref": "Days"}}},
            }
        },
        "Outputs": {"Days": {"Value": {"Fn::GetAtt": ["Child", "Outputs.Days"]}}},
    }
    cfn = c("cloudformation")
    cfn.execute_change_set(ChangeSetName=change_set("upd", "c1", "CREATE", root, [p("Days", "7")])["ChangeSetId"])
    child_id = cfn.describe_stack_resource(StackName="upd", LogicalResourceId="Child")["StackResourceDetail"][
        "PhysicalResourceId"
    ]
    cfn.execute_change_set(ChangeSetName=change_set("upd", "c2", "UPDATE", root, [p("Days", "14")])["ChangeSetId"])
    assert (
        cfn.describe_stack_resource(StackName="upd", LogicalResourceId="Child")["StackResourceDetail"][
            "PhysicalResourceId"
        ]
        == child_id
    )
    statuses = {
        s["StackName"]: s["StackStatus"] for s in cfn.describe_stacks()["Stacks"]
    }  # every stack describable, no orphan
    assert statuses == {"upd": "UPDATE_COMPLETE", child_id: "UPDATE_COMPLETE"}, statuses
    assert cfn.describe_stacks(StackName="upd")["Stacks"][0]["Outputs"][0]["OutputValue"] == "14"
    assert [g["logGroupName"] for g in c("logs").describe_log_groups(logGroupNamePrefix="/nested/")["logGroups"]] == [
        "/nested/named"
    ]


@scenario
def parameters_listed_with_defaults() -> None:
    body = {
        "Parameters": {
            "Given": {"Type": "String"},
            "Defaulted": {"Type": "String", "Default": "d"},
            "Days": {"Type": "Number", "Default": "7"},
            "Secret": {"Type": "String", "NoEcho": True, "Default": "hidden"},
        },
        "Resources": {"T": {"Type": "AWS::SNS::Topic"}},
    }
    described = change_set("params", "c1", "CREATE", body, [p("Given", "g")])
    expected = {"Given": "g", "Defaulted": "d", "Days": "7", "Secret": "****"}
    assert {x["ParameterKey"]: x["ParameterValue"] for x in described["Parameters"]} == expected, described[
        "Parameters"
    ]
    c("cloudformation").execute_change_set(ChangeSetName=described["ChangeSetId"])
    stack = c("cloudformation").describe_stacks(StackName="params")["Stacks"][0]
    assert {x["ParameterKey"]: x["ParameterValue"] for x in stack["Parameters"]} == expected, stack["Parameters"]


def conditional_body() -> dict[str, Any]:
    """Like the root's ServicesStack: a resource that exists only once a Tag is given."""
    return {
        "Parameters": {"Tag": {"Type": "String", "Default": ""}, "Days": {"Type": "Number", "Default": "7"}},
        "Conditions": {"HasTag": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Tag"}, ""]}]}},
        "Resources": {
            "Always": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": "/cond/always", "RetentionInDays": {"Ref": "Days"}},
            },
            "Tagged": {
                "Type": "AWS::Logs::LogGroup",
                "Condition": "HasTag",
                "Properties": {"LogGroupName": "/cond/tagged", "RetentionInDays": {"Ref": "Days"}},
            },
        },
    }


@scenario
def unchanged_update_is_empty() -> None:
    c("cloudformation").execute_change_set(
        ChangeSetName=change_set("same", "c1", "CREATE", conditional_body(), [p("Days", "7")])["ChangeSetId"]
    )
    described = change_set(
        "same", "c2", "UPDATE", conditional_body(), [p("Days", "7"), p("Tag")]
    )  # Tag kept: its default
    assert (described["Status"], described["ExecutionStatus"], described.get("Changes")) == (
        "FAILED",
        "UNAVAILABLE",
        [],
    ), described
    assert "didn't contain changes" in described["StatusReason"]


@scenario
def updates_respect_conditions() -> None:
    cfn = c("cloudformation")
    body = conditional_body()
    # Updated on every change of Tag; AWS::NoValue is resolved again on later updates (the event slots' actions).
    body["Resources"]["Note"] = {
        "Type": "AWS::SSM::Parameter",
        "Properties": {
            "Name": "/cond/note",
            "Type": "String",
            "Value": {"Fn::Sub": "tag-${Tag}"},
            "AllowedPattern": {"Fn::If": ["HasTag", ".*", {"Ref": "AWS::NoValue"}]},
        },
    }

    def deploy(name: str, kind: str, parameters: list[dict[str, Any]]) -> set[str]:
        cfn.execute_change_set(ChangeSetName=change_set("cond", name, kind, body, parameters)["ChangeSetId"])
        assert cfn.describe_stacks(StackName="cond")["Stacks"][0]["StackStatus"].endswith("_COMPLETE")
        listed = {r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName="cond")["StackResourceSummaries"]}
        groups = {g["logGroupName"] for g in c("logs").describe_log_groups(logGroupNamePrefix="/cond/")["logGroups"]}
        return listed | groups

    assert deploy("c1", "CREATE", []) == {"Always", "Note", "/cond/always"}
    assert deploy("c2", "UPDATE", [p("Days", "14"), p("Tag")]) == {
        "Always",
        "Note",
        "/cond/always",
    }  # Tagged: false before and after
    assert deploy("c3", "UPDATE", [p("Days", "14"), p("Tag", "1.0.0")]) == {
        "Always",
        "Note",
        "Tagged",
        "/cond/always",
        "/cond/tagged",
    }
    assert deploy("c4", "UPDATE", [p("Days", "14"), p("Tag", "")]) == {"Always", "Note", "/cond/always"}
    assert c("ssm").get_parameter(Name="/cond/note")["Parameter"]["Value"] == "tag-"  # updated, NoValue and all


@scenario
def ecs_task_definition_update() -> None:
    def body(image: str) -> dict[str, Any]:
        return {
            "Resources": {
                **ecs_service(),
                "Task": {
                    "Type": "AWS::ECS::TaskDefinition",
                    "Properties": {
                        "Family": "compat",
                        "ContainerDefinitions": [{"Name": "app", "Image": image, "Memory": 128}],
                    },
                },
            },
            "Outputs": {"Task": {"Value": {"Ref": "Task"}}},
        }

    cfn = c("cloudformation")
    cfn.execute_change_set(ChangeSetName=change_set("taskdef", "c1", "CREATE", body("nginx:1"), [])["ChangeSetId"])
    cfn.execute_change_set(ChangeSetName=change_set("taskdef", "c2", "UPDATE", body("nginx:2"), [])["ChangeSetId"])
    arn = cfn.describe_stacks(StackName="taskdef")["Stacks"][0]["Outputs"][0]["OutputValue"]
    (container,) = c("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]["containerDefinitions"]
    assert (container.get("name"), container.get("image")) == ("app", "nginx:2"), container


@scenario
def ecs_update_service_deployment() -> None:
    def body(image: str) -> dict[str, Any]:
        resources = ecs_service()
        resources["Task"]["Properties"]["ContainerDefinitions"][0]["Image"] = image
        return {"Resources": resources}

    cfn, ecs = c("cloudformation"), c("ecs")
    cfn.execute_change_set(ChangeSetName=change_set("deploys", "c1", "CREATE", body("nginx:1"), [])["ChangeSetId"])
    cfn.execute_change_set(ChangeSetName=change_set("deploys", "c2", "UPDATE", body("nginx:2"), [])["ChangeSetId"])
    for _ in range(2):  # through CloudFormation, then UpdateService as the AWS CLI sends it
        (service,) = ecs.describe_services(cluster="compat", services=["svc"])["services"]
        (primary,) = [d for d in service["deployments"] if d["status"] == "PRIMARY"]
        image = ecs.describe_task_definition(taskDefinition=primary["taskDefinition"])["taskDefinition"][
            "containerDefinitions"
        ][0]["image"]
        assert primary["taskDefinition"] == service["taskDefinition"] and image.endswith("nginx:2"), primary
        first = ecs.describe_task_definition(taskDefinition="compat:1")["taskDefinition"]["taskDefinitionArn"]
        ecs.update_service(cluster="compat", service="svc", taskDefinition=primary["taskDefinition"])
    assert primary["taskDefinition"] != first


@scenario
def changes_reach_dependents() -> None:
    body = {
        "Parameters": {"Tag": {"Type": "String"}},
        "Resources": {
            **ecs_service(),
            "Task": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "Family": "compat",
                    "ContainerDefinitions": [
                        {"Name": "app", "Image": {"Fn::Sub": "registry.example/app:${Tag}"}, "Memory": 128}
                    ],
                },
            },
        },
    }
    cfn = c("cloudformation")
    cfn.execute_change_set(ChangeSetName=change_set("roll", "c1", "CREATE", body, [p("Tag", "1.0.0")])["ChangeSetId"])
    update = change_set("roll", "c2", "UPDATE", body, [p("Tag", "1.1.0")])
    assert sorted(ch["ResourceChange"]["LogicalResourceId"] for ch in update["Changes"]) == ["Service", "Task"], update[
        "Changes"
    ]
    cfn.execute_change_set(ChangeSetName=update["ChangeSetId"])
    ecs = c("ecs")
    (service,) = ecs.describe_services(cluster="compat", services=["svc"])["services"]
    image = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"][
        "containerDefinitions"
    ][0]["image"]
    assert image == "registry.example/app:1.1.0", image


@scenario
def stale_change_sets_become_obsolete() -> None:

    cfn = c("cloudformation")
    cfn.execute_change_set(ChangeSetName=change_set("stale", "c1", "CREATE", conditional_body(), [])["ChangeSetId"])
    older = change_set("stale", "c2", "UPDATE", conditional_body(), [p("Days", "14")])["ChangeSetId"]
    newer = change_set("stale", "c3", "UPDATE", conditional_body(), [p("Days", "30")])["ChangeSetId"]
    cfn.execute_change_set(ChangeSetName=newer)
    assert cfn.describe_change_set(ChangeSetName=older)["ExecutionStatus"] == "OBSOLETE"
    for name in (older, newer):  # neither the stale one nor the executed one runs (again)
        try:
            cfn.execute_change_set(ChangeSetName=name)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "InvalidChangeSetStatus", exc.response
        else:
            raise AssertionError(f"{name} was executed")


@scenario
def security_group_declared_egress() -> None:
    loopback = {"IpProtocol": "-1", "CidrIp": "127.0.0.1/32", "Description": "no egress"}
    resources = {
        **vpc_resources(),
        "Closed": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupDescription": "closed", "VpcId": {"Ref": "Vpc"}, "SecurityGroupEgress": [loopback]},
        },
    }
    create("declared-egress", resources)
    groups = {g["Description"]: g["IpPermissionsEgress"] for g in c("ec2").describe_security_groups()["SecurityGroups"]}
    ranges = [(p["IpProtocol"], [r["CidrIp"] for r in p.get("IpRanges", [])]) for p in groups["closed"]]
    assert ranges == [("-1", ["127.0.0.1/32"])], ranges  # the declared rule only: no 0.0.0.0/0
    assert [r["CidrIp"] for p in groups["t"] for r in p.get("IpRanges", [])] == ["0.0.0.0/0"]  # none declared


@scenario
def ecs_deleted_with_stack() -> None:
    create("ecs-gone", ecs_service())
    ecs = c("ecs")
    assert ecs.list_services(cluster="compat")["serviceArns"]
    c("cloudformation").delete_stack(StackName="ecs-gone")
    assert ecs.list_services(cluster="compat")["serviceArns"] == []
    assert [s["status"] for s in ecs.describe_services(cluster="compat", services=["svc"])["services"]] == ["INACTIVE"]
    assert [k["status"] for k in ecs.describe_clusters(clusters=["compat"])["clusters"]] == ["INACTIVE"]


@scenario
def list_change_sets_of_one_stack() -> None:
    for stack in ("one", "two"):
        change_set(stack, f"{stack}-c1", "CREATE", conditional_body(), [])
    listed = [s["ChangeSetName"] for s in c("cloudformation").list_change_sets(StackName="one")["Summaries"]]
    assert listed == ["one-c1"], listed


@scenario
def stacks_record_last_update() -> None:
    cfn = c("cloudformation")
    cfn.execute_change_set(ChangeSetName=change_set("dated", "c1", "CREATE", conditional_body(), [])["ChangeSetId"])
    assert "LastUpdatedTime" not in cfn.describe_stacks(StackName="dated")["Stacks"][0]  # never updated yet
    update = change_set("dated", "c2", "UPDATE", conditional_body(), [p("Days", "14")])
    cfn.execute_change_set(ChangeSetName=update["ChangeSetId"])
    stack = cfn.describe_stacks(StackName="dated")["Stacks"][0]
    assert stack.get("LastUpdatedTime", stack["CreationTime"]) > stack["CreationTime"], stack


@scenario
def elasticache_node_count() -> None:
    group = c("elasticache").create_replication_group(
        ReplicationGroupId="two-nodes", ReplicationGroupDescription="r", NumCacheClusters=2, Engine="redis"
    )["ReplicationGroup"]
    roles = [m["CurrentRole"] for m in group["NodeGroups"][0]["NodeGroupMembers"]]
    assert (group["MemberClusters"], roles) == (["two-nodes-001", "two-nodes-002"], ["primary", "replica"]), group


@scenario
def changes_follow_conditions() -> None:
    """Like the root's MonitoringStack: a property chosen by a condition that a new tag flips."""
    body = {
        "Parameters": {"Tag": {"Type": "String", "Default": ""}},
        "Conditions": {"HasTag": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Tag"}, ""]}]}},
        "Resources": {
            "Chosen": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Name": "/cond/deployed",
                    "Type": "String",
                    "Value": {"Fn::If": ["HasTag", "yes", "no"]},
                },
            }
        },
    }
    cfn = c("cloudformation")
    cfn.execute_change_set(ChangeSetName=change_set("chosen", "c1", "CREATE", body, [])["ChangeSetId"])
    update = change_set("chosen", "c2", "UPDATE", body, [p("Tag", "1.0.0")])
    assert [ch["ResourceChange"]["LogicalResourceId"] for ch in update["Changes"]] == ["Chosen"], update["Changes"]
    cfn.execute_change_set(ChangeSetName=update["ChangeSetId"])
    assert c("ssm").get_parameter(Name="/cond/deployed")["Parameter"]["Value"] == "yes"


@scenario
def tag_only_update_is_a_change() -> None:
    cfn = c("cloudformation")

    def tagged(name: str, kind: str, tags: dict[str, str]) -> dict[str, Any]:
        created = cfn.create_change_set(
            StackName="tags",
            ChangeSetName=name,
            ChangeSetType=kind,
            TemplateBody=json.dumps(conditional_body()),
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )
        return cfn.describe_change_set(ChangeSetName=created["Id"])

    cfn.execute_change_set(ChangeSetName=tagged("c1", "CREATE", {"Environment": "dev"})["ChangeSetId"])
    update = tagged("c2", "UPDATE", {"Environment": "dev", "CostCenter": "010"})
    assert update["ExecutionStatus"] == "AVAILABLE", update.get("StatusReason")
    assert [ch["ResourceChange"]["LogicalResourceId"] for ch in update["Changes"]] == ["Always"], update["Changes"]
    cfn.execute_change_set(ChangeSetName=update["ChangeSetId"])
    tags = {t["Key"]: t["Value"] for t in cfn.describe_stacks(StackName="tags")["Stacks"][0]["Tags"]}
    assert tags == {"Environment": "dev", "CostCenter": "010"}, tags


@contextmanager
def emulator_server() -> Iterator[str]:
    """The emulator's HTTP server (moto's, on 127.0.0.1), once for many scenarios: serving() gives each
    a fresh moto with its fix set. An Emulator per scenario would wait 0.5 s at each stop (werkzeug's
    shutdown poll), half a minute over the suite's scenarios."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request log lines, as Emulator.start
    server = _listening_server(0)
    _SERVERS.append(f"http://{LOOPBACK}:{server.get_host_and_port()[1]}")
    try:
        yield _SERVERS[-1]
    finally:
        _SERVERS.pop()
        server.stop()


@contextmanager
def serving(fixes: list[str] | None = None) -> Iterator[str]:
    """A fresh emulator behind the running emulator_server(): moto reset, these fixes (default: all)
    applied, as Emulator.start does; moto is restored when it ends."""
    from moto.moto_api import _internal as moto_api

    global ENDPOINT
    assert _SERVERS, "serving() needs a running emulator_server()"
    with apply(fixes):
        moto_api.moto_api_backend.reset()  # nothing left from an earlier scenario
        ENDPOINT = _SERVERS[-1]
        try:
            yield ENDPOINT
        finally:
            ENDPOINT = None


def run(name: str, fixes: list[str] | None = None) -> None:
    """Run one scenario over HTTP against a fresh emulator with these fixes (default: all)."""
    with serving(fixes):
        SCENARIOS[name]()


if __name__ == "__main__":  # python -m tests.compat_scenarios NAME [FIX ...]: apply only the given fixes
    with emulator_server():
        run(sys.argv[1], fixes=sys.argv[2:])


@scenario
def ecr_layer_download_url() -> None:
    ecr = c("ecr")
    ecr.create_repository(repositoryName="scenario/layers")
    try:
        ecr.get_download_url_for_layer(repositoryName="scenario/layers", layerDigest="sha256:" + "c" * 64)
    except ecr.exceptions.ClientError as exc:
        code = exc.response["Error"]["Code"]
        assert code == "LayersNotFoundException", code
    else:
        raise AssertionError("a layer the repository does not hold has no download URL")
