"""``doctor``: read-only checks of the account and region before a first deploy or an event; exit 1 on a
problem (the table says what to do)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import re

from cylink_deploy import aws
from cylink_deploy.commands.base import Command, Context
from cylink_deploy.errors import BadInput
from cylink_deploy.ops import doctor as doctor_job
from cylink_deploy.ops import zone
from cylink_deploy.preflight import params
from templates_src.services import IMAGE_TAG_PATTERN


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--image-tag", metavar="TAG", help="look for this tag in both repositories (default: the file's ImageTag)"
    )
    p.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE", help="as for deploy (repeatable)")
    p.add_argument(
        "--dns-server",
        metavar="HOST[:PORT]",
        help="ask this DNS resolver about the domain instead of the system's (e.g. 1.1.1.1)",
    )


def dns_server(value: str | None) -> str | None:
    """--dns-server checked: an IP address, optionally with a port."""
    if value is None:
        return None
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    try:
        ipaddress.ip_address(host)
        if port and not 0 < int(port) < 65536:
            raise ValueError
    except ValueError:
        raise BadInput(f"--dns-server {value!r}: give an IP address, optionally with :PORT (e.g. 1.1.1.1)") from None
    return value


def on_loopback() -> bool:
    """AWS_ENDPOINT_URL names this machine (the emulator): its zones are in no public DNS."""
    return aws.on_loopback(os.environ.get("AWS_ENDPOINT_URL"))


def run(ctx: Context) -> int:
    a = ctx.args
    if a.image_tag is not None and not re.fullmatch(IMAGE_TAG_PATTERN, a.image_tag):
        raise BadInput(f"--image-tag {a.image_tag!r} is not a valid tag (letters, digits, _ . -; at most 128)")
    server = dns_server(a.dns_server)
    request = doctor_job.DoctorRequest(a.env, a.stack_name, a.image_tag, params.parse_overrides(a.parameter))
    res = None if server is None and on_loopback() else zone.resolver(server)
    view = doctor_job.doctor(request, ctx.clients(), ctx.account_clients(), ctx.reporter, ctx.project, res)
    if view.problems:
        raise doctor_job.NotReady(doctor_job.summary(view))
    return 0


COMMAND = Command(
    "doctor",
    "account",
    "read-only checks of the account and region before a first deploy or an event; exit 1 on a problem",
    run,
    ("target", "aws", "json"),
    arguments,
)
