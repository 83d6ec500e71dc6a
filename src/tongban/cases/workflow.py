"""Workflows as configuration (DIGIT's business services): states, actions, the roles that may take
each, per-state time limits in working days. One TOML file per workflow in `data/workflows/`.

Every workflow is validated when loaded: one start state, every `to` names a state, every state is
reachable from the start, an end state is reachable from every state, end states have no actions,
and roles are known. A broken file stops the load with a message naming the file and the fault.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from tongban.core.errors import TongbanError

# The roles a workflow may name. "applicant": the citizen (or the enterprise's agent) the case is
# for; "officer": a staff officer whose department and region cover the case; "system": the platform
# itself (a courier's signed callback, an electronic result issued).
ROLES = frozenset({"applicant", "officer", "system"})
# What the platform may do on entering a state (`check = "…"`): tongban.cases.record_check runs it.
CHECKS = frozenset({"criminal_record"})


class WorkflowConfigError(ValueError):
    """A workflow definition is incomplete or inconsistent."""


@dataclass(frozen=True)
class Action:
    key: str
    label: str
    to: str
    roles: frozenset[str]


@dataclass(frozen=True)
class State:
    key: str
    label: str
    end: bool = False
    sla_days: int = 0  # this state's own limit in working days; 0 = none
    clock_stopped: bool = False  # the promised deadline does not run in this state (补正)
    check: str = ""  # a platform check run on entering the state (CHECKS)
    actions: tuple[Action, ...] = ()

    def action(self, key: str) -> Action | None:
        return next((a for a in self.actions if a.key == key), None)


@dataclass(frozen=True)
class Workflow:
    key: str
    label: str
    start: str
    states: dict[str, State] = field(default_factory=dict)

    def state(self, key: str) -> State:
        try:
            return self.states[key]
        except KeyError:
            raise WorkflowConfigError(f"workflow {self.key!r} has no state {key!r}") from None

    def label_of(self, state: str) -> str:
        found = self.states.get(state)
        return found.label if found else state

    @property
    def end_states(self) -> frozenset[str]:
        return frozenset(k for k, s in self.states.items() if s.end)

    def actions_for(self, state: str, roles: set[str] | frozenset[str]) -> list[Action]:
        """The actions of `state` that one holding `roles` may take."""
        return [a for a in self.state(state).actions if a.roles & set(roles)]

    def check(self, state: str, action: str, roles: set[str] | frozenset[str]) -> Action:
        """The action if it may be taken in `state` by one holding `roles`; a clear refusal otherwise."""
        current = self.state(state)
        found = current.action(action)
        if found is None:
            label = _action_labels(self).get(action, action)
            raise TongbanError("case_action_not_allowed", f"办件当前状态为“{current.label}”，不能执行“{label}”。",
                               f"The case is '{state}'; '{action}' cannot be done now.", 409,
                               [{"state": state, "action": action}])
        if not found.roles & set(roles):
            raise TongbanError("case_action_forbidden", f"您无权对处于“{current.label}”状态的办件执行“{found.label}”。",
                               f"You may not do '{action}' on a case that is '{state}'.", 403,
                               [{"state": state, "action": action}])
        return found


def _action_labels(workflow: Workflow) -> dict[str, str]:
    return {a.key: a.label for s in workflow.states.values() for a in s.actions}


def parse(data: dict[str, Any], *, source: str = "<memory>") -> Workflow:
    """Build and validate a workflow from its parsed definition."""

    def fail(message: str) -> WorkflowConfigError:
        return WorkflowConfigError(f"{source}: {message}")

    key = data.get("key")
    if not isinstance(key, str) or not key:
        raise fail("a workflow needs a key")
    raw_states = data.get("states")
    if not isinstance(raw_states, list) or not raw_states:
        raise fail("a workflow needs states")
    states: dict[str, State] = {}
    for raw in raw_states:
        skey = raw.get("key")
        if not isinstance(skey, str) or not skey:
            raise fail("every state needs a key")
        if skey in states:
            raise fail(f"state {skey!r} is defined twice")
        actions = []
        seen: set[str] = set()
        for raw_action in raw.get("actions", []):
            akey, to, roles = raw_action.get("key"), raw_action.get("to"), raw_action.get("roles")
            if not isinstance(akey, str) or not akey or not isinstance(to, str) or not to:
                raise fail(f"state {skey!r}: every action needs a key and a target state")
            if akey in seen:
                raise fail(f"state {skey!r}: action {akey!r} is defined twice")
            seen.add(akey)
            if not isinstance(roles, list) or not roles:
                raise fail(f"state {skey!r}, action {akey!r}: name the roles that may take it")
            unknown = set(roles) - ROLES
            if unknown:
                raise fail(f"state {skey!r}, action {akey!r}: unknown roles {sorted(unknown)}")
            actions.append(Action(akey, str(raw_action.get("label", akey)), to, frozenset(roles)))
        sla = raw.get("sla_days", 0)
        if not isinstance(sla, int) or sla < 0:
            raise fail(f"state {skey!r}: sla_days must be a whole number of working days")
        check = raw.get("check", "")
        if check and check not in CHECKS:
            raise fail(f"state {skey!r}: unknown check {check!r}")
        states[skey] = State(key=skey, label=str(raw.get("label", skey)), end=bool(raw.get("end", False)),
                             sla_days=sla, clock_stopped=bool(raw.get("clock_stopped", False)),
                             check=str(check), actions=tuple(actions))
    start = data.get("start")
    if start not in states:
        raise fail(f"the start state {start!r} is not defined")
    workflow = Workflow(key=key, label=str(data.get("label", key)), start=start, states=states)
    _validate_graph(workflow, fail)
    return workflow


def _validate_graph(workflow: Workflow, fail: Any) -> None:
    states = workflow.states
    for state in states.values():
        if state.end and state.actions:
            raise fail(f"end state {state.key!r} must not have actions")
        if not state.end and not state.actions:
            raise fail(f"state {state.key!r} has no actions and is not an end state")
        for action in state.actions:
            if action.to not in states:
                raise fail(f"state {state.key!r}, action {action.key!r}: target {action.to!r} is not defined")
    if not workflow.end_states:
        raise fail("no end state")
    # Every state reachable from the start.
    reached = {workflow.start}
    frontier = [workflow.start]
    while frontier:
        for action in states[frontier.pop()].actions:
            if action.to not in reached:
                reached.add(action.to)
                frontier.append(action.to)
    unreachable = sorted(set(states) - reached)
    if unreachable:
        raise fail(f"states not reachable from {workflow.start!r}: {', '.join(unreachable)}")
    # An end reachable from every state (walk the reversed edges from the ends).
    incoming: dict[str, set[str]] = {k: set() for k in states}
    for state in states.values():
        for action in state.actions:
            incoming[action.to].add(state.key)
    can_end = set(workflow.end_states)
    frontier = list(can_end)
    while frontier:
        for source in incoming[frontier.pop()]:
            if source not in can_end:
                can_end.add(source)
                frontier.append(source)
    stuck = sorted(set(states) - can_end)
    if stuck:
        raise fail(f"no end state can be reached from: {', '.join(stuck)}")


def loads(text: str, *, source: str = "<memory>") -> Workflow:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WorkflowConfigError(f"{source}: not valid TOML: {exc}") from None
    return parse(data, source=source)


@lru_cache(maxsize=1)
def _load_all() -> dict[str, Workflow]:
    folder = resources.files("tongban.cases").joinpath("data/workflows")
    found: dict[str, Workflow] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        workflow = loads(entry.read_text(encoding="utf-8"), source=f"workflows/{entry.name}")
        if workflow.key in found:
            raise WorkflowConfigError(f"workflows/{entry.name}: key {workflow.key!r} is used twice")
        found[workflow.key] = workflow
    return found


def workflows() -> dict[str, Workflow]:
    """Every shipped workflow by key (loaded and validated once per process)."""
    return dict(_load_all())


def get_workflow(key: str | None) -> Workflow:
    """The workflow of that key (two review steps, "two_review", when none is named)."""
    all_ = _load_all()
    try:
        return all_[key or "two_review"]
    except KeyError:
        raise WorkflowConfigError(f"unknown workflow {key!r}; known: {', '.join(sorted(all_))}") from None
