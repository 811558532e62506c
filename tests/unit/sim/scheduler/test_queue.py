"""Queue order, back-off timing (1 s doubling to 10 s) and event-driven moves."""

from __future__ import annotations

import pytest

from app.sim.machinery.clock import ManualClock
from app.sim.scheduler import events
from app.sim.scheduler.queue import ACTIVE, BACKOFF, GATED, UNSCHEDULABLE, SchedulingQueue
from tests.builders import make_pod

FIT_EVENTS = frozenset({events.NODE_ADD, events.ASSIGNED_POD_DELETE})
AFFINITY_EVENTS = frozenset({events.NODE_ADD, events.NODE_LABEL_CHANGE})


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def queue(clock):
    return SchedulingQueue(
        clock.now,
        plugin_events={"NodeResourcesFit": FIT_EVENTS, "NodeAffinity": AFFINITY_EVENTS},
    )


def test_higher_priority_first_then_oldest(queue, clock):
    queue.add("default/low", make_pod("low"), 0)
    clock.advance(1)
    queue.add("default/high", make_pod("high"), 100)
    queue.add("default/low2", make_pod("low2"), 0)
    assert [queue.pop().key for _ in range(3)] == ["default/high", "default/low", "default/low2"]
    assert queue.pop() is None


def test_backoff_doubles_from_one_to_ten_seconds(queue):
    queued = queue.add("default/p", make_pod("p"), 0)
    durations = []
    for _ in range(6):
        popped = queue.pop()
        assert popped is queued
        durations.append(queue.backoff_duration(popped))
        queue.add_backoff(popped)
        queue._push_active(popped)  # retry at once to count attempts
    assert durations == [1, 2, 4, 8, 10, 10]


def test_event_moves_pod_to_backoff_then_active_when_backoff_expires(queue, clock):
    queue.add("default/p", make_pod("p"), 0)
    popped = queue.pop()
    queue.add_unschedulable(popped, {"NodeResourcesFit"})
    assert queue.where("default/p") == UNSCHEDULABLE
    clock.advance(0.5)
    assert queue.move_on_event(events.NODE_ADD) == 1
    assert queue.where("default/p") == BACKOFF  # 1 s back-off not over yet
    queue.flush()
    assert queue.pop() is None
    assert queue.next_wakeup() == pytest.approx(0.5)
    clock.advance(0.5)
    queue.flush()
    assert queue.where("default/p") == ACTIVE
    assert queue.pop().key == "default/p"


def test_second_failure_backs_off_two_seconds(queue, clock):
    queue.add("default/p", make_pod("p"), 0)
    queue.add_unschedulable(queue.pop(), {"NodeResourcesFit"})
    clock.advance(1)
    queue.move_on_event(events.NODE_ADD)
    second = queue.pop()
    assert second.attempts == 2
    queue.add_unschedulable(second, {"NodeResourcesFit"})
    clock.advance(1.5)
    queue.move_on_event(events.ASSIGNED_POD_DELETE)
    assert queue.where("default/p") == BACKOFF
    clock.advance(0.5)
    queue.flush()
    assert queue.where("default/p") == ACTIVE


def test_events_the_rejecting_plugin_did_not_register_do_not_move_the_pod(queue, clock):
    queue.add("default/p", make_pod("p"), 0)
    queue.add_unschedulable(queue.pop(), {"NodeAffinity"})
    clock.advance(30)
    assert queue.move_on_event(events.ASSIGNED_POD_DELETE) == 0
    assert queue.where("default/p") == UNSCHEDULABLE
    assert queue.move_on_event(events.NODE_LABEL_CHANGE) == 1
    assert queue.where("default/p") == ACTIVE


def test_unschedulable_pods_are_retried_after_five_minutes(queue, clock):
    queue.add("default/p", make_pod("p"), 0)
    queue.add_unschedulable(queue.pop(), {"NodeAffinity"})
    clock.advance(299)
    queue.flush()
    assert queue.where("default/p") == UNSCHEDULABLE
    clock.advance(1)
    queue.flush()
    assert queue.where("default/p") == ACTIVE


def test_gated_pods_wait_until_their_gates_are_removed(queue):
    queue.add("default/p", make_pod("p"), 0, gate_message="waiting for scheduling gates: [quota]")
    assert queue.where("default/p") == GATED
    assert queue.pop() is None
    queue.update("default/p", make_pod("p"), 0)
    assert queue.pop().key == "default/p"


def test_deleted_pods_leave_every_queue(queue):
    queue.add("default/p", make_pod("p"), 0)
    queue.delete("default/p")
    assert queue.pop() is None
    assert "default/p" not in queue
