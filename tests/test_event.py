"""``deploy.py event``, without AWS: the flags, the event slots, what is refused before any change, the
templates' scheduled actions, the parameter rule, and the keep-previous rule for parameters a stack lacks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from cylink_deploy.cfn import changesets
from cylink_deploy.commands import event as event_command
from cylink_deploy.commands.registry import parser
from cylink_deploy.errors import BadInput
from cylink_deploy.ops import event
from cylink_deploy.preflight import params
from templates_src import render, services

NOW = datetime(2026, 12, 4, 4, 0, tzinfo=timezone.utc)
UTC = timezone.utc


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def ev(slot: int, up: datetime, down: datetime, backend: int = 10, frontend: int = 2) -> event.Event:
    return event.Event(slot, up, down, {"backend": backend, "frontend": frontend})


# --- flags ---------------------------------------------------------------------------------------


def test_the_start_is_read_with_its_offset_and_kept_in_utc():
    assert event.parse_start("2026-12-10T18:00+09:00") == at(10, 9)
    assert event.parse_start("2026-12-10T09:00Z") == at(10, 9)


@pytest.mark.parametrize("value", ["2026-12-10T18:00", "tomorrow", "2026-13-10T18:00+09:00"])
def test_a_start_without_an_offset_or_not_a_time_is_refused(value):
    with pytest.raises(BadInput, match="--start"):
        event.parse_start(value)


def test_the_warm_up_takes_minutes_or_hours_up_to_a_day():
    assert event.parse_warm_up("30m") == timedelta(minutes=30)
    assert event.parse_warm_up("2h") == timedelta(hours=2)
    assert event.parse_warm_up("0m") == timedelta(0)
    for bad in ("30", "1d", "-5m", "25h"):
        with pytest.raises(BadInput, match="--warm-up"):
            event.parse_warm_up(bad)


def _args(*argv: str):
    return parser().parse_args(["event", "--env", "prod", *argv])


def test_the_command_line_becomes_a_request():
    req = event_command.request(_args("--start", "2026-12-10T18:00+09:00", "--hours", "2.5", "--backend-tasks", "8"))
    assert (req.start, req.hours, req.warm_up, req.tasks) == (at(10, 9), 2.5, timedelta(minutes=30), {"backend": 8})
    assert event_command.request(_args("--cancel")).cancel and event_command.request(_args("--cancel")).name is None
    assert event_command.request(_args("--cancel", "event2")).name == "event2"
    assert event_command.request(_args("--list")).listing


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--list", "--backend-tasks", "4"], "--backend-tasks: only with --start"),
        (["--cancel", "--hours", "3"], "--hours: only with --start"),
        (["--list", "--no-execute"], "--list changes nothing"),
    ],
)
def test_flags_that_do_not_apply_are_refused(argv, message):
    with pytest.raises(BadInput, match=message):
        event_command.request(_args(*argv))


@pytest.mark.parametrize(
    "argv", [["--start", "x", "--hours", "0"], ["--start", "x", "--hours", "73"], ["--list", "--start", "x"]]
)
def test_argparse_refuses_out_of_range_hours_and_two_actions(argv):
    with pytest.raises(BadInput):
        _args(*argv)


@pytest.mark.parametrize("count", ["0", "1.5", "ten"])
def test_a_task_count_is_a_whole_number_from_one(count):
    with pytest.raises(BadInput, match="--backend-tasks"):
        _args("--start", "2026-12-10T18:00+09:00", "--backend-tasks", count)


# --- slots ---------------------------------------------------------------------------------------


def test_slots_round_trip_through_the_stack_parameters():
    events = [ev(2, at(10, 8, 30), at(10, 12))]
    values = event.slot_values(events)
    assert values["Event1ScaleUpAt"] == "" and values["Event1BackendTasks"] == "0"
    assert values["Event2ScaleUpAt"] == "2026-12-10T08:30:00" and values["Event2BackendTasks"] == "10"
    assert event.slots(values) == events
    assert set(values) == set(services.event_params())  # every slot parameter, every time


def test_task_counts_default_to_the_guide_event_and_stay_in_the_range():
    normal = {"backend": (2, 10), "frontend": (2, 6)}
    assert event.event_tasks({}, normal) == {"backend": 10, "frontend": 2}
    assert event.event_tasks({"frontend": 4}, normal) == {"backend": 10, "frontend": 4}
    with pytest.raises(BadInput, match="--backend-tasks 11 is above BackendMaxCapacity 10"):
        event.event_tasks({"backend": 11}, normal)
    with pytest.raises(BadInput, match="--frontend-tasks 1 is below FrontendMinCapacity 2"):
        event.event_tasks({"frontend": 1}, normal)


TASKS = {"backend": 10, "frontend": 2}


def test_a_new_event_takes_the_first_free_slot_and_drops_the_events_that_are_over():
    over = ev(1, at(1, 8), at(1, 12))
    later = ev(2, at(20, 8), at(20, 12))
    new, events = event.plan_new([over, later], at(10, 9), 3, timedelta(minutes=30), TASKS, NOW)
    assert (new.name, new.scale_up, new.scale_down) == ("event1", at(10, 8, 30), at(10, 12))
    assert events == [new, later]


@pytest.mark.parametrize(
    "start, warm_up, message",
    [
        (at(3, 9), timedelta(minutes=30), "is in the past"),
        (at(4, 4, 20), timedelta(minutes=30), "the warm-up would begin at 2026-12-04 03:50 UTC, in the past"),
    ],
)
def test_a_start_or_warm_up_in_the_past_is_refused(start, warm_up, message):
    with pytest.raises(BadInput, match=message):
        event.plan_new([], start, 3, warm_up, TASKS, NOW)


def test_an_event_overlapping_another_with_its_warm_up_is_refused():
    other = ev(1, at(10, 8, 30), at(10, 12))
    with pytest.raises(BadInput, match="overlaps event1"):
        event.plan_new([other], at(10, 12, 20), 1, timedelta(minutes=30), TASKS, NOW)  # warm-up from 11:50
    new, _ = event.plan_new([other], at(10, 12, 40), 1, timedelta(minutes=30), TASKS, NOW)  # from 12:10
    assert new.slot == 2


def test_no_new_event_while_every_slot_is_taken_or_an_event_is_on():
    taken = [ev(1, at(10, 8), at(10, 12)), ev(2, at(11, 8), at(11, 12))]
    with pytest.raises(BadInput, match="all 2 event slots are taken"):
        event.plan_new(taken, at(20, 9), 3, timedelta(minutes=30), TASKS, NOW)
    on = [ev(1, at(4, 3), at(4, 6))]
    with pytest.raises(BadInput, match="event1 is on now"):
        event.plan_new(on, at(20, 9), 3, timedelta(minutes=30), TASKS, NOW)


def test_cancel_names_the_event_unless_only_one_is_scheduled():
    one, two, over = ev(1, at(10, 8), at(10, 12)), ev(2, at(11, 8), at(11, 12)), ev(2, at(1, 8), at(1, 12))
    assert event.plan_cancel([one, over], None, NOW) == (one, [])
    assert event.plan_cancel([one, two], "event2", NOW) == (two, [one])
    with pytest.raises(BadInput, match="2 events are scheduled"):
        event.plan_cancel([one, two], None, NOW)
    with pytest.raises(BadInput, match="no scheduled event named event3"):
        event.plan_cancel([one], "event3", NOW)
    with pytest.raises(BadInput, match="no event is scheduled"):
        event.plan_cancel([over], None, NOW)


def test_an_event_is_scheduled_then_on_then_over():
    e = ev(1, at(10, 8), at(10, 12))
    assert [e.state(t) for t in (at(10, 7), at(10, 8), at(10, 12))] == ["scheduled", "on now", "over"]


# --- templates -----------------------------------------------------------------------------------


def _services_template() -> dict:
    files = render.render()
    return json.loads(next(v for k, v in files.items() if k.startswith("services-")))


def test_each_scalable_target_has_a_scale_up_and_a_scale_down_per_slot_only_when_the_slot_is_set():
    t = _services_template()
    for svc in ("Backend", "Frontend"):
        actions = t["Resources"][f"{svc}ScalableTarget"]["Properties"]["ScheduledActions"]
        assert len(actions) == 2 * services.EVENT_SLOTS
        for n in range(1, services.EVENT_SLOTS + 1):
            up, down = actions[2 * n - 2]["Fn::If"], actions[2 * n - 1]["Fn::If"]
            assert up[0] == down[0] == f"Event{n}Scheduled" and up[2] == down[2] == {"Ref": "AWS::NoValue"}
            assert up[1]["Schedule"] == {"Fn::Sub": f"at(${{Event{n}ScaleUpAt}})"}
            assert up[1]["Timezone"] == "Etc/UTC"
            assert up[1]["ScalableTargetAction"] == {
                "MinCapacity": {"Ref": f"Event{n}{svc}Tasks"},
                "MaxCapacity": {"Ref": f"{svc}MaxCapacity"},
            }
            assert down[1]["Schedule"] == {"Fn::Sub": f"at(${{Event{n}ScaleDownAt}})"}
            assert down[1]["ScalableTargetAction"]["MinCapacity"] == {"Ref": f"{svc}MinCapacity"}
    assert t["Conditions"]["Event1Scheduled"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "Event1ScaleUpAt"}, ""]}]}


def test_the_root_defaults_every_slot_to_empty():
    root = json.loads(render.render()[render.ROOT_FILE])["Parameters"]
    assert {k: root[k]["Default"] for k in services.event_params()} == {
        k: ("0" if k.endswith("Tasks") else "") for k in services.event_params()
    }


# --- the parameter rule and keep-previous ---------------------------------------------------------


@pytest.fixture(scope="module")
def root_params():
    return json.loads(render.render()[render.ROOT_FILE])["Parameters"]


def _resolve(tmp_path, root_params, **overrides):
    path = tmp_path / "prod.yaml"
    path.write_text("template-file-path: build/root.json\nparameters:\n  DomainName: example.com\n")
    return params.resolve("prod", path, root_params, overrides, deploying=False)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"Event1ScaleDownAt": "2026-12-10T12:00:00"}, "Event1ScaleDownAt is set but Event1ScaleUpAt is empty"),
        ({"Event2BackendTasks": "4"}, "Event2BackendTasks is set but Event2ScaleUpAt is empty"),
        (
            {"Event1ScaleUpAt": "2026-12-10T12:00:00", "Event1ScaleDownAt": "2026-12-10T08:00:00"},
            r"Event1ScaleDownAt \(2026-12-10T08:00:00\) must be after",
        ),
        (
            {
                "Event1ScaleUpAt": "2026-12-10T08:00:00",
                "Event1ScaleDownAt": "2026-12-10T12:00:00",
                "Event1BackendTasks": "11",
                "Event1FrontendTasks": "2",
            },
            r"Event1BackendTasks \(11\) must be within",
        ),
    ],
)
def test_a_slot_is_empty_or_whole(tmp_path, root_params, overrides, message):
    with pytest.raises(BadInput, match=message):
        _resolve(tmp_path, root_params, **overrides)


def test_a_whole_slot_passes_and_a_bad_time_is_refused_by_its_pattern(tmp_path, root_params):
    whole = {
        "Event1ScaleUpAt": "2026-12-10T08:30:00",
        "Event1ScaleDownAt": "2026-12-10T12:00:00",
        "Event1BackendTasks": "10",
        "Event1FrontendTasks": "2",
    }
    assert _resolve(tmp_path, root_params, **whole).parameters["Event1BackendTasks"] == "10"
    with pytest.raises(BadInput, match="Event1ScaleUpAt"):
        _resolve(tmp_path, root_params, **{**whole, "Event1ScaleUpAt": "2026-12-10 08:30"})


def test_a_plain_deploy_keeps_the_slots_but_only_those_the_stack_already_has():
    assert set(services.event_params()) < set(params.KEEP_PREVIOUS)
    assert changesets.keepable(params.KEEP_PREVIOUS, {"ImageTag": "1.0.0"}) == ("ImageTag",)  # older templates
    assert changesets.keepable(params.KEEP_PREVIOUS, None) == ()
    everything = dict.fromkeys(params.KEEP_PREVIOUS, "")
    assert changesets.keepable(params.KEEP_PREVIOUS, everything) == params.KEEP_PREVIOUS


def test_a_stopping_task_drains_and_stops_within_fargate_spots_two_minute_notice():
    """The end of an event stops tasks: deregistration delay, then SIGTERM and the stop timeout. Both must fit
    the notice a Spot reclaim gives (ECS Developer Guide, Fargate Spot: a two-minute warning)."""
    from templates_src import loadbalancer

    assert loadbalancer.DEREGISTRATION_DELAY_SECONDS >= 30  # not the 5 s AWS advises against for streaming
    assert loadbalancer.DEREGISTRATION_DELAY_SECONDS + services.STOP_TIMEOUT_SECONDS <= 120


def test_the_list_says_each_time_in_tokyo_as_planned_and_in_utc_as_stored():
    """--start 2027-12-10T18:00+09:00 scales up at 17:30 in Tokyo: the list said only 08:30 (UTC)."""
    import io
    from datetime import datetime, timezone

    from cylink_deploy.ops.event import Event, EventList
    from cylink_deploy.output.human import HumanReporter

    up, down = datetime(2027, 12, 10, 8, 30, tzinfo=timezone.utc), datetime(2027, 12, 10, 12, 0, tzinfo=timezone.utc)
    out = io.StringIO()
    HumanReporter(out=out).show(EventList("cylink-prod", [Event(1, up, down, {"backend": 10})], up))
    assert "2027-12-10 17:30 JST (08:30 UTC)" in out.getvalue() and "2027-12-10 21:00 JST (12:00 UTC)" in out.getvalue()
