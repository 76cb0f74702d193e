"""Security groups (guide §5, §7, §8): least exposure, every rule described."""

from __future__ import annotations

RULE_TYPES = ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")


def _rules(built, type_):
    return {k: v["Properties"] for k, v in built.resources("security", type_).items()}


def test_alb_accepts_80_and_443_from_anywhere_only(built):
    alb = {k: v for k, v in _rules(built, RULE_TYPES[0]).items() if k.startswith("Alb")}
    assert sorted((r["FromPort"], r["CidrIp"]) for r in alb.values()) == [(80, "0.0.0.0/0"), (443, "0.0.0.0/0")]


def test_tasks_accept_only_the_alb_on_3000_and_3001(built):
    task = {k: v for k, v in _rules(built, RULE_TYPES[0]).items() if k.startswith("Task")}
    assert sorted(r["FromPort"] for r in task.values()) == [3000, 3001]
    for rule in task.values():
        assert rule["SourceSecurityGroupId"] == {"Fn::GetAtt": ["AlbSecurityGroup", "GroupId"]}
        assert "CidrIp" not in rule


def test_redis_accepts_only_the_tasks_on_6379(built):
    redis = _rules(built, RULE_TYPES[0])["RedisIngressFromTasks"]
    assert (redis["FromPort"], redis["ToPort"]) == (6379, 6379)
    assert redis["SourceSecurityGroupId"] == {"Fn::GetAtt": ["TaskSecurityGroup", "GroupId"]}


def test_alb_egress_reaches_only_the_task_ports(built):
    egress = {k: v for k, v in _rules(built, RULE_TYPES[1]).items() if k.startswith("Alb")}
    assert sorted(r["FromPort"] for r in egress.values()) == [3000, 3001]


def test_every_rule_has_a_description(built):
    for type_ in RULE_TYPES:
        for logical_id, rule in _rules(built, type_).items():
            assert rule.get("Description"), logical_id
    assert len(built.resources("security", "AWS::EC2::SecurityGroup")) == 3


def test_every_group_declares_its_egress_explicitly(built):
    """Inline egress is what makes CloudFormation drop the default allow-all rule; standalone egress
    resources alone leave it in place. Every group declares only the loopback 'no egress' rule inline;
    the real rules stay standalone (never both forms for one rule). Issue 21 finding 14: the task group too."""
    groups = built.resources("security", "AWS::EC2::SecurityGroup")
    for name in ("AlbSecurityGroup", "RedisSecurityGroup", "TaskSecurityGroup"):
        (rule,) = groups[name]["Properties"]["SecurityGroupEgress"]
        assert (rule["IpProtocol"], rule["CidrIp"]) == ("-1", "127.0.0.1/32") and rule["Description"]
    standalone = {k: v["Properties"] for k, v in built.resources("security", RULE_TYPES[1]).items()}
    assert {v["GroupId"]["Fn::GetAtt"][0] for v in standalone.values()} == {"AlbSecurityGroup", "TaskSecurityGroup"}


def test_tasks_reach_only_https_and_redis(built):
    """ECR, CloudWatch Logs and Secrets Manager are HTTPS APIs; DNS to the Amazon resolver is never filtered by
    security groups (https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html)."""
    task = {k: v for k, v in _rules(built, RULE_TYPES[1]).items() if k.startswith("Task")}
    assert sorted((r["FromPort"], r["ToPort"]) for r in task.values()) == [(443, 443), (6379, 6379)]
    redis = task["TaskEgressRedis"]
    assert redis["DestinationSecurityGroupId"] == {"Fn::GetAtt": ["RedisSecurityGroup", "GroupId"]}
    assert task["TaskEgressHttps"]["CidrIp"] == "0.0.0.0/0"


def test_the_flow_log_role_describes_log_groups_on_the_resource_iam_checks(built):
    (policy,) = built.props("network", "FlowLogRole")["Policies"]
    by_action = {a: s["Resource"] for s in policy["PolicyDocument"]["Statement"] for a in s["Action"]}
    assert by_action["logs:DescribeLogGroups"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}
    ]
    assert by_action["logs:PutLogEvents"] == [{"Fn::GetAtt": ["FlowLogGroup", "Arn"]}]


def test_kms_administration_cannot_create_grants(built):
    """kms:Create* would include kms:CreateGrant (a way around kms:ViaService); grants are denied unless for
    an AWS resource."""
    from fnmatch import fnmatchcase

    statements = {s["Sid"]: s for s in built.props("keys", "DataKey")["KeyPolicy"]["Statement"]}
    admin = statements["AccountAdministersTheKey"]["Action"]
    assert not [a for a in admin if fnmatchcase("kms:CreateGrant", a)]
    deny = statements["GrantsOnlyForAwsResources"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", ["kms:CreateGrant"])
    assert deny["Condition"] == {
        "BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}
    }
