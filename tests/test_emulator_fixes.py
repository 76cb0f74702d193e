"""Each compatibility fix is needed: its scenario passes with every fix and fails without that one;
and the fixes can be taken back, so moto used in-process afterwards is moto as shipped.

Every scenario runs in this process, behind one server, against a fresh emulator (moto reset, then the
fix set applied): no interpreter, moto import or server per scenario."""

from __future__ import annotations

import moto
import pytest

from cylink_deploy import emulator

from .compat_scenarios import SCENARIOS, emulator_server, run, serving
from .conftest import shared_emulator_stopped


@pytest.fixture(scope="module", autouse=True)
def _moto_to_ourselves():
    """These tests apply fix sets of their own and check moto unpatched: no other hold may be in force."""
    with shared_emulator_stopped():
        yield


@pytest.fixture(scope="module")
def server():
    """One server for the module's scenarios; each gets a fresh moto with its fix set (serving())."""
    with emulator_server() as endpoint:
        yield endpoint


def test_every_fix_has_a_scenario_and_the_moto_pin_is_checked():
    assert sorted(SCENARIOS) == sorted(emulator.FIXES)
    assert moto.__version__ == emulator.MOTO_VERSION


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(emulator.FIXES))
def test_the_scenario_passes_with_all_fixes(name, server):
    run(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(emulator.FIXES))
def test_the_scenario_fails_without_its_fix(name, server):
    others = [f for f in emulator.FIXES if f != name]
    with serving(fixes=others), emulator.apply(only=others) as applied:
        assert name not in applied.names  # the set in force is exactly the others (apply refuses any other)
        try:
            SCENARIOS[name]()
        except Exception:  # it failed by raising inside the scenario (the emulator started fine)
            pass
        else:
            pytest.fail(f"{name} passes without its fix")


_NOT_SET = object()


def _values(patched):
    return [vars(owner).get(name, _NOT_SET) for owner, name in patched]


def test_leaving_the_context_restores_every_patched_attribute():
    with emulator.apply() as applied:
        patched = applied.patched  # learn what the fixes touch
    assert len(patched) >= len(emulator.FIXES)
    before = _values(patched)
    with emulator.apply():
        during = _values(patched)
    after = _values(patched)
    assert all(d is not b for d, b in zip(during, before, strict=True))  # every recorded attribute was really patched
    assert all(a is b for a, b in zip(after, before, strict=True))  # and is the original object again (or absent again)


def test_moto_in_process_after_the_context_is_moto_as_shipped():
    from moto.cloudformation import parsing
    from moto.cloudformation.models import Stack

    before = (
        parsing.resource_class_from_type,
        parsing.clean_json,
        vars(Stack).get("get_cfn_attribute"),
        vars(moto.kms.models.Key)["create_from_cloudformation_json"],
    )
    with emulator.apply():
        assert parsing.resource_class_from_type("AWS::ElastiCache::ReplicationGroup") is not None
        assert hasattr(Stack, "get_cfn_attribute")
    after = (
        parsing.resource_class_from_type,
        parsing.clean_json,
        vars(Stack).get("get_cfn_attribute"),
        vars(moto.kms.models.Key)["create_from_cloudformation_json"],
    )
    assert after == before and before[2] is None
    assert parsing.resource_class_from_type("AWS::ElastiCache::ReplicationGroup") is None


def test_nested_holds_share_one_application_and_the_last_one_restores():
    from moto.cloudformation.models import Stack

    outer = emulator.apply()
    with emulator.apply():
        assert "get_cfn_attribute" in vars(Stack)
    assert "get_cfn_attribute" in vars(Stack)  # the outer hold still needs it
    outer.close()
    assert "get_cfn_attribute" not in vars(Stack)
    with (
        pytest.raises(RuntimeError, match="other emulator fixes"),
        emulator.apply(),
        emulator.apply(only=["nested_stack_outputs"]),
    ):
        pass
    assert "get_cfn_attribute" not in vars(Stack)
