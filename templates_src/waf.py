"""WAF stack (optional, on in prod): a regional WebACL on the ALB with AWS managed rule groups (IP
reputation, common rules, known bad inputs) and a per-IP rate limit, with metrics and logging.

The rate limit is per client IP per 5 minutes. Attendees of one event often share a venue's NAT
address, so the default (WafRateLimit) is sized for hundreds of users behind one IP, not for one user.
Outputs: WebAclArn.
"""
from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, Template
from troposphere import logs
from troposphere import wafv2 as waf

from .common import add_output, add_param, arn_pattern, data_key_param, log_retention_param, name_prefix_param

MANAGED_RULE_GROUPS = ("AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")


def _visibility(metric: str) -> waf.VisibilityConfig:
    return waf.VisibilityConfig(CloudWatchMetricsEnabled=True, MetricName=metric, SampledRequestsEnabled=True)


def build() -> Template:
    """WebACL, its association with the ALB, and its (encrypted, retained) log group."""
    t = Template(Description="Cylink WAF: managed rule groups and a per-IP rate limit on the ALB")
    name_prefix_param(t)
    data_key_param(t)
    log_retention_param(t)
    add_param(t, "AlbArn", "ARN of the ALB to protect.", AllowedPattern=arn_pattern("elasticloadbalancing"))
    add_param(t, "WafRateLimit", "Requests per client IP per 5 minutes before WAF blocks it.", "Number", MinValue=100, MaxValue=2000000000)

    rules = [
        waf.WebACLRule(
            Name=group,
            Priority=priority,
            OverrideAction=waf.OverrideAction(**{"None": {}}),  # use the group's own block/count actions
            Statement=waf.Statement(ManagedRuleGroupStatement=waf.ManagedRuleGroupStatement(VendorName="AWS", Name=group)),
            VisibilityConfig=_visibility(group),
        )
        for priority, group in enumerate(MANAGED_RULE_GROUPS)
    ]
    rules.append(
        waf.WebACLRule(
            Name="per-ip-rate-limit",
            Priority=len(MANAGED_RULE_GROUPS),
            Action=waf.RuleAction(Block=waf.BlockAction()),
            Statement=waf.Statement(RateBasedStatement=waf.RateBasedStatement(AggregateKeyType="IP", Limit=Ref("WafRateLimit"))),
            VisibilityConfig=_visibility("per-ip-rate-limit"),
        )
    )
    t.add_resource(
        waf.WebACL(
            "WebAcl",
            Name=Sub("${NamePrefix}-alb"),
            Scope="REGIONAL",
            DefaultAction=waf.DefaultAction(Allow=waf.AllowAction()),
            Rules=rules,
            VisibilityConfig=_visibility("cylink-alb"),
        )
    )
    t.add_resource(waf.WebACLAssociation("WebAclAssociation", ResourceArn=Ref("AlbArn"), WebACLArn=GetAtt("WebAcl", "Arn")))
    t.add_resource(
        logs.LogGroup(
            "WafLogGroup",
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            LogGroupName=Sub("aws-waf-logs-${NamePrefix}"),  # WAF requires the aws-waf-logs- prefix
            RetentionInDays=Ref("LogRetentionDays"),
            KmsKeyId=Ref("DataKeyArn"),
        )
    )
    t.add_resource(
        waf.LoggingConfiguration(
            "WafLogging",
            ResourceArn=GetAtt("WebAcl", "Arn"),
            LogDestinationConfigs=[GetAtt("WafLogGroup", "Arn")],
        )
    )
    add_output(t, "WebAclArn", GetAtt("WebAcl", "Arn"), "ARN of the WebACL on the ALB.")
    return t
