"""Registry stack (guide §6): one ECR repository per service, named <NamePrefix>/<service>.

Images are scanned on push, tags are immutable (a release tag always means the same image), and a
lifecycle policy bounds storage. Repositories survive stack deletion and replacement.

Outputs: <Service>RepositoryUri, <Service>RepositoryName for each service.
"""

from __future__ import annotations

import json

from troposphere import GetAtt, Ref, Sub, Template
from troposphere import ecr

from .common import RETAINED_NAMED, SERVICES, add_output, add_param, data_key_param, name_prefix_param


def lifecycle_policy_text() -> str:
    """Expire untagged images after a day; keep only the newest EcrKeepImages images otherwise."""
    rules = [
        {
            "rulePriority": 1,
            "description": "Expire untagged images after one day",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 1,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": "Keep the newest images only",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 999999},
            "action": {"type": "expire"},
        },
    ]
    # The count comes from a parameter: leave a ${EcrKeepImages} placeholder for Fn::Sub.
    return json.dumps({"rules": rules}, sort_keys=True).replace("999999", "${EcrKeepImages}")


def build() -> Template:
    """One retained, scanned, immutable repository per service."""
    t = Template(Description="Cylink container registry: ECR repositories (guide section 6)")
    name_prefix_param(t)
    data_key_param(t)
    add_param(t, "EcrKeepImages", "How many images each repository keeps.", "Number", MinValue=1, MaxValue=1000)
    for svc in SERVICES:
        title = f"{svc.title}Repository"
        t.add_resource(
            ecr.Repository(
                title,
                **RETAINED_NAMED,
                RepositoryName=Sub("${NamePrefix}/" + svc.name),
                ImageScanningConfiguration=ecr.ImageScanningConfiguration(ScanOnPush=True),
                ImageTagMutability="IMMUTABLE",
                EncryptionConfiguration=ecr.EncryptionConfiguration(EncryptionType="KMS", KmsKey=Ref("DataKeyArn")),
                LifecyclePolicy=ecr.LifecyclePolicy(LifecyclePolicyText=Sub(lifecycle_policy_text())),
            )
        )
        add_output(t, f"{title}Uri", GetAtt(title, "RepositoryUri"), f"URI of the {svc.name} image repository.")
        add_output(t, f"{title}Name", Ref(title), f"Name of the {svc.name} image repository.")
    return t
