"""Unpack cfn-guard and Control Tower's guard rules from the installed cdklabs-cdk-validator-cfnguard wheel.

The wheel keeps them inside its jsii tarball; this puts ``cfn-guard`` in ``<venv>/bin`` and the rules in
``<venv>/rules/control-tower`` so the policy gate can run them without Node or the CDK.
Usage: python tools/guard_install.py .venv-guard
"""

from __future__ import annotations

import platform
import shutil
import sys
import tarfile
from pathlib import Path

RULES = "package/rules/control-tower/cfn-guard/"


def binary_member() -> str:
    """The tarball's cfn-guard for this machine (the wheel ships Linux and macOS, x86_64 and aarch64)."""
    system = {"Linux": "ubuntu", "Darwin": "macos"}.get(platform.system())
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(
        platform.machine().lower()
    )
    if system is None or arch is None:
        raise SystemExit(
            f"guard_install: no cfn-guard binary in the wheel for {platform.system()} {platform.machine()}"
        )
    return f"package/bin/{system}/{arch}/cfn-guard"


def main(venv: Path) -> None:
    tarballs = sorted(venv.glob("lib/python*/site-packages/cdklabs/cdk_validator_cfnguard/_jsii/*.jsii.tgz"))
    if not tarballs:
        raise SystemExit(
            f"guard_install: cdklabs-cdk-validator-cfnguard is not installed in {venv} (pip install --no-deps -r "
            "requirements-guard.txt)"
        )
    rules = venv / "rules" / "control-tower"
    shutil.rmtree(rules, ignore_errors=True)
    wanted = binary_member()
    with tarfile.open(tarballs[-1]) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith(RULES) and member.name.endswith(".guard"):
                target = rules / member.name.removeprefix(RULES)
            elif member.name == wanted:
                target = venv / "bin" / "cfn-guard"
            else:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
    (venv / "bin" / "cfn-guard").chmod(0o755)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
