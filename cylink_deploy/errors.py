"""Named failures and the exit codes they map to (documented in docs/commands.md and ``--help``)."""

from __future__ import annotations

EXIT_OK = 0  # deployed, or nothing to change
EXIT_FAILED = 1  # the deployment ran and failed (rolled back), or a lint error
EXIT_BAD_INPUT = 2  # bad flag, parameter file or override: nothing in AWS was touched
EXIT_AWS_ACCESS = 3  # credentials, region, permissions or the endpoint (after execution the line says what goes on)
EXIT_STACK_STATE = 4  # the stack is in a state that needs a human first
EXIT_ABORTED = 5  # the user declined at a prompt, or no TTY to ask on
EXIT_UNSAFE = 6  # the change set would replace or remove a stateful resource: refused
EXIT_DOCKER = 7  # release --build: docker is missing or not running, or a build/push failed


class DeployError(Exception):
    """A failure with a one-line message saying what to do, and an exit code."""

    exit_code = EXIT_FAILED


class BadInput(DeployError):
    """Flags, parameter files or overrides that cannot be deployed."""

    exit_code = EXIT_BAD_INPUT


class AwsAccessError(DeployError):
    """Missing or expired credentials, missing region, access denied."""

    exit_code = EXIT_AWS_ACCESS


class StackStateError(DeployError):
    """The stack is stuck (e.g. UPDATE_ROLLBACK_FAILED) and needs a recovery step first."""

    exit_code = EXIT_STACK_STATE


class Aborted(DeployError):
    """The user said no, or there was nobody to ask."""

    exit_code = EXIT_ABORTED


class UnsafeChange(DeployError):
    """The change set would replace or remove a stateful resource that was not explicitly allowed."""

    exit_code = EXIT_UNSAFE


class DockerError(DeployError):
    """``release --build`` cannot use docker (missing, not running) or a build/push failed."""

    exit_code = EXIT_DOCKER


class DeploymentFailed(DeployError):
    """The change set was executed and the stack did not reach a *_COMPLETE success state."""

    exit_code = EXIT_FAILED


class NoChanges(Exception):
    """The change set is empty: the stack already matches. Success, not an error."""
