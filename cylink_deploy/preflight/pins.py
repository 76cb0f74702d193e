"""Each environment pinned to its AWS account and region: ``params/pins/ENV.yaml``, written by
``python deploy.py pin``, read before every command that touches AWS.

The parameter file stays a CloudFormation Git-sync stack deployment file, whose keys are
``template-file-path``, ``parameters`` and ``tags`` only
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/git-sync-concepts-terms.html#git-sync-concepts-terms-depoyment-file),
so the pin is a small side file beside it; ``params/*.yaml`` (the environments) never matches it. With a pin,
a command whose credentials belong to another account, or that runs in another region, is refused before
its first write (``refusal``): the wrong ``AWS_PROFILE`` or CI role can no longer deploy production's
parameters into whatever account it reaches. Without one, prod is warned about (``unpinned``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cylink_deploy.aws import REGION
from cylink_deploy.errors import BadInput, StackStateError
from cylink_deploy.preflight.params import ENV_PATTERN, read_yaml

PIN_DIR = "pins"  # under params/
ACCOUNT = re.compile(r"^\d{12}$")  # an AWS account ID: 12 digits, leading zeros included
PINNED_BY_POLICY = ("prod",)  # environments whose missing pin is worth a warning on every command
KEYS = ("account", "region")


class WrongAccount(StackStateError):
    """The credentials or the region are not the ones the environment is pinned to (exit 4: nothing changed)."""


@dataclass(frozen=True)
class Pin:
    """Where an environment lives."""

    env: str
    account: str
    region: str

    def document(self) -> dict[str, str]:
        return {"environment": self.env, "account": self.account, "region": self.region}


def pin_file(params_dir: Path, env: str) -> Path:
    return params_dir / PIN_DIR / f"{env}.yaml"


def check(env: str, account: str, region: str) -> Pin:
    """A pin from flags or a file, or one line saying what is wrong with it."""
    if not ENV_PATTERN.match(env):
        raise BadInput(f"--env {env!r}: use lower-case letters, digits and hyphens (e.g. dev, staging, prod)")
    if not isinstance(account, str) or not ACCOUNT.fullmatch(account):
        raise BadInput(f'account {account!r}: an AWS account ID is 12 digits, written as text (e.g. "012345678901")')
    if not isinstance(region, str) or not REGION.fullmatch(region):
        raise BadInput(f"region {region!r} is not an AWS region: use a name such as ap-northeast-1")
    return Pin(env, account, region)


def load(params_dir: Path, env: str) -> Pin | None:
    """The environment's pin, None when it has none; a pin file that is not exactly account and region is an
    error naming the file (never read as "not pinned")."""
    path = pin_file(params_dir, env)
    if not path.exists():
        return None
    doc = read_yaml(path)
    if not isinstance(doc, dict) or set(doc) != set(KEYS):
        raise BadInput(f"{path}: expected exactly the keys account and region (write it with: python deploy.py pin)")
    try:
        return check(env, doc["account"], doc["region"])
    except BadInput as exc:
        raise BadInput(f"{path}: {exc}") from None


def text(pin: Pin) -> str:
    """The pin file: two keys and a comment saying what they do and how to change them."""
    return (
        f"# Where {pin.env} lives: every deploy.py command on {pin.env} refuses other credentials' account or another\n"
        f"# region, before anything in AWS changes. Change it with: python deploy.py pin --env {pin.env} --account ID "
        "--region R\n"
        f'account: "{pin.account}"\n'
        f"region: {pin.region}\n"
    )


def write(params_dir: Path, pin: Pin) -> Path:
    """Write (or replace) the environment's pin file; returns its path."""
    path = pin_file(params_dir, pin.env)
    for where in (path.parent, path):  # a --project-dir tree is not trusted: never write where a link points
        if where.is_symlink():
            raise BadInput(f"{where} is a symlink: the pin is written only into a real file of the project")
    path.parent.mkdir(exist_ok=True)
    path.write_text(text(pin), encoding="utf-8")
    return path


def refusal(pin: Pin, account: str, region: str) -> str | None:
    """Why a command with these credentials and this region may not touch the pinned environment (None: it
    may). One line naming both sides."""
    if (account, region) == (pin.account, pin.region):
        return None
    return (
        f"{pin.env} is pinned to account {pin.account} in {pin.region}, but these credentials are account "
        f"{account} in {region}: use the profile or role of account {pin.account} and --region {pin.region} "
        f"(the pin: {PIN_DIR}/{pin.env}.yaml; nothing was changed)"
    )


def unpinned(env: str) -> str | None:
    """The warning for an environment that should be pinned and is not."""
    if env not in PINNED_BY_POLICY:
        return None
    return (
        f"{env} is not pinned to an account and region: with the wrong AWS_PROFILE or CI role its parameters would "
        f"deploy into whatever account the credentials reach; pin it once: python deploy.py pin --env {env} "
        "--account ID --region R"
    )
