"""Cache stack (guide §5): Redis for the backend's WebSocket fan-out.

The guide's single cache cluster can neither fail over nor encrypt in transit, so this is a replication
group with TLS, encryption at rest, an AUTH token generated in Secrets Manager, snapshots, and Multi-AZ
automatic failover whenever it has two or more nodes. Deleting or replacing it takes a final snapshot.

Outputs: RedisEndpointAddress, RedisEndpointPort, RedisAuthSecretArn, RedisReplicationGroupId (its nodes'
metrics are per <id>-001, -002, ...).
"""

from __future__ import annotations

from troposphere import And, Condition, Equals, GetAtt, If, Not, Ref, Split, Sub, Template
from troposphere import elasticache, secretsmanager

from .common import RETAINED, SUBNET_LIST_PATTERN, add_output, add_param, data_key_param, name_prefix_param

# The group's AuthToken: the secret's AWSCURRENT (no version stage or ID). ``deploy.py rotate-redis-auth``
# moves AWSCURRENT to the new token, so a later stack update that touches the group sends the token Redis
# accepts; a pinned version would send the old token back.
# Failover follows the node count ("auto") unless switched "off": AWS refuses to enable automatic failover and
# Multi-AZ in the update that adds the first replica ("must have at least one read replica to enable
# autofailover") and to remove the last replica while Multi-AZ is on ("Must have at least 1 replica for Multi-AZ
# enabled"): https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/383,
# https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/AutoFailover.html. deploy.py refuses such an update and
# prints the two steps (cfn/changes.py redis_refusal); issue 21 finding 2.
FAILOVER_VALUES = ("auto", "off")
AUTH_TOKEN_REFERENCE = "{{resolve:secretsmanager:${RedisAuthSecret}:SecretString}}"


def build() -> Template:
    """Secret for the AUTH token, subnet group, and the replication group."""
    t = Template(Description="Cylink Redis: encrypted ElastiCache replication group with AUTH (guide section 5)")
    name_prefix_param(t)
    add_param(
        t, "PrivateSubnetIds", "Comma-separated private subnets for the cache.", AllowedPattern=SUBNET_LIST_PATTERN
    )
    add_param(t, "RedisSecurityGroupId", "Security group of Redis.", "AWS::EC2::SecurityGroup::Id")
    # node types are like cache.r7g.16xlarge, versions like 7.1: the lengths bound typing mistakes, not AWS
    add_param(
        t, "RedisNodeType", "ElastiCache node type.", AllowedPattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$", MaxLength=40
    )
    add_param(t, "RedisEngineVersion", "Redis engine version.", AllowedPattern=r"^[0-9]+\.[0-9x]+$", MaxLength=10)
    add_param(
        t,
        "RedisNodeCount",
        "Nodes in the replication group: 1, or 2+ for Multi-AZ failover.",
        "Number",
        MinValue=1,
        MaxValue=6,
    )
    add_param(
        t,
        "RedisFailover",
        "auto: Multi-AZ automatic failover whenever there are 2+ nodes; off: none (the first step of adding or "
        "removing the replica, which AWS refuses in the same update as the failover switch).",
        AllowedValues=list(FAILOVER_VALUES),
    )
    add_param(t, "RedisSnapshotRetentionDays", "Days automatic snapshots are kept.", "Number", MinValue=1, MaxValue=35)
    data_key_param(t)
    t.add_condition("MultiNode", Not(Equals(Ref("RedisNodeCount"), "1")))
    t.add_condition("Failover", And(Condition("MultiNode"), Equals(Ref("RedisFailover"), "auto")))

    t.add_resource(
        secretsmanager.Secret(
            "RedisAuthSecret",
            **RETAINED,
            Description=Sub("AUTH token of the ${NamePrefix} Redis replication group"),
            KmsKeyId=Ref("DataKeyArn"),
            GenerateSecretString=secretsmanager.GenerateSecretString(
                PasswordLength=64,
                ExcludePunctuation=True,  # AUTH tokens forbid @ " / and most punctuation
            ),
        )
    )
    t.add_resource(
        elasticache.SubnetGroup(
            "RedisSubnetGroup",
            Description="Private subnets of the Cylink Redis",
            SubnetIds=Split(",", Ref("PrivateSubnetIds")),
        )
    )
    multi = If("Failover", True, False)
    t.add_resource(
        elasticache.ReplicationGroup(
            "RedisReplicationGroup",
            DeletionPolicy="Snapshot",
            UpdateReplacePolicy="Snapshot",
            ReplicationGroupDescription=Sub("${NamePrefix} Redis for WebSocket fan-out"),
            Engine="redis",
            EngineVersion=Ref("RedisEngineVersion"),
            CacheNodeType=Ref("RedisNodeType"),
            NumCacheClusters=Ref("RedisNodeCount"),
            AutomaticFailoverEnabled=multi,
            MultiAZEnabled=multi,
            AtRestEncryptionEnabled=True,
            KmsKeyId=Ref("DataKeyArn"),
            TransitEncryptionEnabled=True,
            AuthToken=Sub(AUTH_TOKEN_REFERENCE),
            Port=6379,
            CacheSubnetGroupName=Ref("RedisSubnetGroup"),
            SecurityGroupIds=[Ref("RedisSecurityGroupId")],
            SnapshotRetentionLimit=Ref("RedisSnapshotRetentionDays"),
            SnapshotWindow="17:00-18:00",  # 02:00-03:00 JST, outside event hours
            PreferredMaintenanceWindow="mon:18:00-mon:19:00",
            AutoMinorVersionUpgrade=True,
        )
    )
    add_output(
        t,
        "RedisEndpointAddress",
        GetAtt("RedisReplicationGroup", "PrimaryEndPoint.Address"),
        "Primary endpoint of Redis.",
    )
    add_output(t, "RedisEndpointPort", GetAtt("RedisReplicationGroup", "PrimaryEndPoint.Port"), "Port of Redis.")
    add_output(
        t,
        "RedisReplicationGroupId",
        Ref("RedisReplicationGroup"),
        "ID of the Redis replication group (nodes are <id>-001, -002, ...).",
    )
    add_output(t, "RedisAuthSecretArn", Ref("RedisAuthSecret"), "Secrets Manager ARN of the Redis AUTH token.")
    return t
