"""Workflows as configuration: the shipped ones load; broken ones are refused at load with the fault named;
actions are refused outside their state or role with a clear message."""

import pytest

from tongban.cases.workflow import WorkflowConfigError, get_workflow, loads, workflows
from tongban.core.errors import TongbanError

GOOD = """
key = "t"
start = "a"
[[states]]
key = "a"
[[states.actions]]
key = "go"
to = "b"
roles = ["officer"]
[[states]]
key = "b"
end = true
"""


def test_shipped_workflows_load_and_are_complete():
    found = workflows()
    assert {"two_review", "one_review", "immediate"} <= set(found)
    two = found["two_review"]
    assert two.start == "draft"
    assert {"closed", "not_accepted", "withdrawn", "denied"} <= two.end_states
    # The default has the two review steps; one_review has one; immediate decides at once.
    assert two.state("review").action("pass_review").to == "decision"
    assert found["one_review"].state("review").action("approve").to == "delivery"
    assert found["immediate"].state("submitted").action("approve").to == "delivery"
    assert two.state("correction").clock_stopped


def test_a_good_definition_parses():
    wf = loads(GOOD)
    assert wf.end_states == {"b"}


@pytest.mark.parametrize(("text", "fault"), [
    (GOOD + '[[states]]\nkey = "orphan"\nend = true\n', "not reachable"),
    (GOOD.replace('to = "b"', 'to = "nowhere"'), "not defined"),
    (GOOD.replace('roles = ["officer"]', 'roles = ["janitor"]'), "unknown roles"),
    (GOOD.replace('start = "a"', 'start = "zz"'), "start state"),
    # a loop with no way out: c <-> d, reachable from a, never ending
    (GOOD.replace('[[states]]\nkey = "b"', '[[states.actions]]\nkey = "loop"\nto = "c"\nroles = ["officer"]\n'
                  '[[states]]\nkey = "c"\n[[states.actions]]\nkey = "x"\nto = "d"\nroles = ["officer"]\n'
                  '[[states]]\nkey = "d"\n[[states.actions]]\nkey = "y"\nto = "c"\nroles = ["officer"]\n'
                  '[[states]]\nkey = "b"'), "no end state can be reached from: c, d"),
    (GOOD.replace("end = true", 'end = true\n[[states.actions]]\nkey = "z"\nto = "a"\nroles = ["officer"]'),
     "must not have actions"),
    ("not toml [", "not valid TOML"),
])
def test_broken_definitions_are_refused_with_the_fault_named(text, fault):
    with pytest.raises(WorkflowConfigError, match=fault):
        loads(text, source="x.toml")


def test_an_action_outside_its_state_or_role_is_refused_clearly():
    wf = get_workflow("two_review")
    assert wf.check("submitted", "accept", {"officer"}).to == "review"
    with pytest.raises(TongbanError) as wrong_state:
        wf.check("draft", "accept", {"officer"})
    assert wrong_state.value.code == "case_action_not_allowed"
    assert "草稿" in wrong_state.value.message("zh") and "受理" in wrong_state.value.message("zh")
    with pytest.raises(TongbanError) as wrong_role:
        wf.check("submitted", "accept", {"applicant"})
    assert wrong_role.value.code == "case_action_forbidden"
    assert wrong_role.value.http_status() == 403
    assert [a.key for a in wf.actions_for("submitted", {"applicant"})] == ["withdraw"]


def test_unknown_workflow_is_an_error():
    with pytest.raises(WorkflowConfigError, match="unknown workflow"):
        get_workflow("nope")
