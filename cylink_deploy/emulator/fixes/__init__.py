"""The compatibility fixes, one module per service (CloudFormation: per area). Importing this
package registers them in ``registry.FIXES``, in the order below; nothing is patched until apply()."""

from ..registry import check_moto_version

check_moto_version()  # before importing moto's internals, which another version may not have

from . import (  # noqa: E402,F401 - registration order is application order
    acm,
    application_autoscaling,
    cloudformation_change_sets,
    cloudformation_events,
    cloudformation_functions,
    cloudformation_parameters,
    cloudformation_stacks,
    cloudformation_updates,
    ec2,
    ecr,
    ecs,
    elasticache,
    elbv2,
    iam,
    kms,
    monitoring,
    route53,
    s3,
    secretsmanager,
    wafv2,
)
