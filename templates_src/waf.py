"""WAF for the ALB (optional, on in prod), part of the load-balancer stack so that the WebACL's
association sits beside the ALB it protects: a regional WebACL with AWS managed rule groups (IP
reputation, common rules, known bad inputs) and a per-IP rate limit, with metrics and logging.

The rate limit is per client IP per 5 minutes. Attendees of one event often share a venue's NAT
address, so the default (WafRateLimit) is sized for hundreds of users behind one IP, not for one user.
"""

from __future__ import annotations

from troposphere import Equals, GetAtt, Output, Ref, Sub, Template
from troposphere import logs
from troposphere import wafv2 as waf

from .common import RETAINED_NAMED, WEB_ACL_METRIC, add_param

# Rules of a managed group counted instead of blocking (issue 21 finding 8). The core rule set's SizeRestrictions_BODY
# blocks every request body over 8 KB (https://docs.aws.amazon.com/waf/latest/developerguide/
# aws-managed-rule-groups-baseline.html), which would refuse Socket.IO's long-polling POSTs and larger form posts
# in staging and prod only (dev has no WAF); the group's other rules still inspect the first 8 KB, and the backend
# limits its own bodies (docs/deviations.md, "What the images must do"). NoUserAgent_HEADER stays: browsers always
# send one.
COUNTED_RULES = {"AWSManagedRulesCommonRuleSet": ("SizeRestrictions_BODY",)}
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
)


def _visibility(metric: str | Sub) -> waf.VisibilityConfig:
    return waf.VisibilityConfig(CloudWatchMetricsEnabled=True, MetricName=metric, SampledRequestsEnabled=True)


def _counted(group: str) -> dict[str, list[waf.RuleActionOverride]]:
    rules = COUNTED_RULES.get(group, ())
    if not rules:
        return {}
    count = waf.RuleAction(Count=waf.CountAction())
    return {"RuleActionOverrides": [waf.RuleActionOverride(Name=rule, ActionToUse=count) for rule in rules]}


def add(t: Template, alb: str) -> None:
    """WebACL, its association with the ``alb`` resource, and its (encrypted, retained) log group, all
    under the HasWaf condition. Needs the NamePrefix, DataKeyArn and LogRetentionDays parameters."""
    add_param(t, "WafEnabled", "Whether a WAF WebACL protects the ALB (true in prod).", AllowedValues=["true", "false"])
    add_param(
        t,
        "WafRateLimit",
        "Requests per client IP per 5 minutes before WAF blocks it.",
        "Number",
        MinValue=100,
        MaxValue=2000000000,
    )
    t.add_condition("HasWaf", Equals(Ref("WafEnabled"), "true"))

    rules = [
        waf.WebACLRule(
            Name=group,
            Priority=priority,
            OverrideAction=waf.OverrideAction(**{"None": {}}),  # use the group's own block/count actions
            Statement=waf.Statement(
                ManagedRuleGroupStatement=waf.ManagedRuleGroupStatement(
                    VendorName="AWS",
                    Name=group,
                    **_counted(group),
                )
            ),
            VisibilityConfig=_visibility(group),
        )
        for priority, group in enumerate(MANAGED_RULE_GROUPS)
    ]
    rules.append(
        waf.WebACLRule(
            Name="per-ip-rate-limit",
            Priority=len(MANAGED_RULE_GROUPS),
            Action=waf.RuleAction(Block=waf.BlockAction()),
            Statement=waf.Statement(
                RateBasedStatement=waf.RateBasedStatement(AggregateKeyType="IP", Limit=Ref("WafRateLimit"))
            ),
            VisibilityConfig=_visibility("per-ip-rate-limit"),
        )
    )
    t.add_resource(
        waf.WebACL(
            "WebAcl",
            Condition="HasWaf",
            Name=Sub("${NamePrefix}-alb"),
            Scope="REGIONAL",
            DefaultAction=waf.DefaultAction(Allow=waf.AllowAction()),
            Rules=rules,
            VisibilityConfig=_visibility(Sub(WEB_ACL_METRIC)),
        )
    )
    t.add_resource(
        waf.WebACLAssociation(
            "WebAclAssociation", Condition="HasWaf", ResourceArn=Ref(alb), WebACLArn=GetAtt("WebAcl", "Arn")
        )
    )
    t.add_resource(
        logs.LogGroup(
            "WafLogGroup",
            Condition="HasWaf",
            **RETAINED_NAMED,
            LogGroupName=Sub("aws-waf-logs-${NamePrefix}"),  # WAF requires the aws-waf-logs- prefix
            RetentionInDays=Ref("LogRetentionDays"),
            KmsKeyId=Ref("DataKeyArn"),
        )
    )
    t.add_resource(
        waf.LoggingConfiguration(
            "WafLogging",
            Condition="HasWaf",
            ResourceArn=GetAtt("WebAcl", "Arn"),
            LogDestinationConfigs=[GetAtt("WafLogGroup", "Arn")],
        )
    )
    t.add_output(
        Output(
            "WebAclArn", Condition="HasWaf", Value=GetAtt("WebAcl", "Arn"), Description="ARN of the WebACL on the ALB."
        )
    )
