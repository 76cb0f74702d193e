"""The compatibility fixes, one module per service (CloudFormation: per area). Importing this
package registers them in ``registry.FIXES``, in the order below; nothing is patched until apply()."""

from ..registry import check_moto_version

check_moto_version()  # before importing moto's internals, which another version may not have

from . import (  # noqa: E402,F401 - registration order is application order
    cloudformation_stacks,
    cloudformation_parameters,
    cloudformation_change_sets,
    cloudformation_updates,
    cloudformation_events,
    cloudformation_functions,
    ec2,
    elbv2,
    route53,
    kms,
    s3,
    elasticache,
    secretsmanager,
    acm,
    ecs,
    application_autoscaling,
    wafv2,
    monitoring,
)
