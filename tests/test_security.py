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
