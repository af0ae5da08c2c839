"""The cluster side of the iallocator protocol (qganeti.iallocator): how
answers are checked and turned into placements and follow-up jobs, with the
allocator's replies stubbed out."""

import pytest

from qganeti import errors, iallocator
from qganeti.lu import group


class Ctx:
    def __init__(self):
        self.log = []

    def log_info(self, message, *args):
        self.log.append(message % args if args else message)

    def log_warning(self, message, *args):
        self.log.append("WARNING: " + (message % args if args else message))


def make_cfg():
    nodes = {"u1": {"name": "node1", "group": "g1"}, "u2": {"name": "node2", "group": "g1"},
             "u3": {"name": "node3", "group": "g2"}}
    return {"cluster": {"cluster_name": "c", "default_iallocator_params": {}},
            "nodes": nodes,
            "nodegroups": {"g1": {"name": "default"}, "g2": {"name": "other"}},
            "instances": {"i1": {"uuid": "i1", "name": "web1", "primary_node": "u1",
                                 "disks": [], "disk_template": "sharedfile"}},
            "disks": {}}


@pytest.fixture
def reply(monkeypatch):
    """Set what the allocator answers; the requests it got are kept."""
    state = {"asked": []}

    def ask(ctx, cfg, name, request, params=None):
        state["asked"].append((name, request, params))
        return state["reply"]

    monkeypatch.setattr(iallocator, "_ask", ask)
    monkeypatch.setattr(iallocator, "find", lambda name: name)
    return state


def test_relocate_asks_to_move_off_the_primary_and_returns_the_node(reply):
    cfg = make_cfg()
    reply["reply"] = {"success": True, "info": "success", "result": ["node2"]}
    assert iallocator.relocate(Ctx(), cfg, "hail", cfg["instances"]["i1"]) == "u2"
    _, request, _ = reply["asked"][0]
    assert request == {"type": "relocate", "name": "web1", "required_nodes": 1,
                       "disk_space_total": 0, "relocate_from": ["node1"]}


def test_relocate_refuses_a_node_of_another_group_and_reports_failures(reply):
    cfg = make_cfg()
    inst = cfg["instances"]["i1"]
    reply["reply"] = {"success": True, "info": "", "result": ["node3"]}
    with pytest.raises(errors.OpExecError, match=r"Groups of nodes returned by iallocator"
                       r" \(other\) differ from original groups \(default\)"):
        iallocator.relocate(Ctx(), cfg, "hail", inst)
    reply["reply"] = {"success": True, "info": "", "result": ["nodeX"]}
    with pytest.raises(errors.OpPrereqError, match="chose unknown node"):
        iallocator.relocate(Ctx(), cfg, "hail", inst)
    reply["reply"] = {"success": True, "info": "", "result": ["node2", "node3"]}
    with pytest.raises(errors.OpExecError, match="invalid result"):
        iallocator.relocate(Ctx(), cfg, "hail", inst)
    reply["reply"] = {"success": False, "info": "Request failed: no room", "result": []}
    with pytest.raises(errors.OpPrereqError,
                       match="Can't compute nodes using iallocator 'hail': Request failed"):
        iallocator.relocate(Ctx(), cfg, "hail", inst)


def test_node_evacuate_passes_ignore_soft_errors_as_a_flag(reply):
    reply["reply"] = {"success": True, "info": "", "result": [[], [], []]}
    iallocator.node_evacuate(Ctx(), make_cfg(), "hail", ["web1"], "all", True)
    iallocator.node_evacuate(Ctx(), make_cfg(), "hail", ["web1"], "primary-only")
    (_, first, params1), (_, second, params2) = reply["asked"]
    assert first == {"type": "node-evacuate", "instances": ["web1"], "evac_mode": "all"}
    assert params1 == {"ignore-soft-errors": None} and params2 == {}
    assert second["evac_mode"] == "primary-only"


def test_an_evacuation_answer_with_foreign_opcodes_is_invalid(reply):
    reply["reply"] = {"success": True, "info": "",
                      "result": [[], [], [[{"OP_ID": "OP_INSTANCE_REMOVE",
                                            "instance_name": "web1"}]]]}
    with pytest.raises(errors.OpExecError, match="invalid result"):
        iallocator.change_group(Ctx(), make_cfg(), "hail", ["web1"], ["g2"], "Can't")
    reply["reply"] = {"success": False, "info": "Request failed: x", "result": []}
    with pytest.raises(errors.OpPrereqError,
                       match="Can't compute group evacuation using iallocator 'hail':"):
        iallocator.change_group(Ctx(), make_cfg(), "hail", ["web1"], [],
                                "Can't compute group evacuation")


def test_evacuation_jobs_fail_as_a_whole_when_an_instance_cannot_move():
    ctx = Ctx()
    answer = ([["a1", "default", ["node2"]]],
              [["f1", "Instances of type file cannot be relocated"]], [])
    with pytest.raises(errors.OpExecError) as exc:
        iallocator.evacuation_jobs(ctx, answer, False, True)
    assert str(exc.value) == ("Unable to evacuate instances f1 (Instances of type file"
                              " cannot be relocated)")
    assert ctx.log == ["WARNING: Unable to evacuate instances f1 (Instances of type file"
                       " cannot be relocated)"]


def test_evacuation_jobs_name_nodes_or_groups_and_set_early_release():
    migrate = {"OP_ID": "OP_INSTANCE_MIGRATE", "instance_name": "a1", "target_node": "node2"}
    replace = {"OP_ID": "OP_INSTANCE_REPLACE_DISKS", "instance_name": "d1",
               "early_release": False}
    answer = ([["a1", "default", ["node2"]], ["d1", "default", ["node2", "node1"]]], [],
              [[migrate], [replace]])
    ctx = Ctx()
    jobs = iallocator.evacuation_jobs(ctx, answer, True, True)
    assert ctx.log == ["Instances to be moved: a1 (to node2), d1 (to node2, node1)"]
    assert jobs == [[migrate], [dict(replace, early_release=True)]]
    assert "early_release" not in jobs[0][0]
    ctx = Ctx()
    iallocator.evacuation_jobs(ctx, answer, False, False)
    assert ctx.log == ["Instances to be moved: a1 (to default), d1 (to default)"]


def _items(*names):
    return [({"instance_name": n, "beparams": {}}, "diskless", []) for n in names]


def test_multi_allocate_takes_failed_instances_by_name_or_with_a_reason(reply):
    cfg = make_cfg()
    reply["reply"] = {"success": True, "info": "",
                      "result": [[["b1", ["node2"]]], [["b2", "FailMem: 3"]]]}
    assert iallocator.multi_allocate(Ctx(), cfg, "hail", _items("b1", "b2")) == \
        ([("b1", ["u2"])], ["b2"])
    _, request, _ = reply["asked"][0]
    assert request["type"] == "multi-allocate"
    assert [r["name"] for r in request["instances"]] == ["b1", "b2"]
    assert all(r["required_nodes"] == 1 for r in request["instances"])
    reply["reply"]["result"] = [[["b1", ["node2"]]], ["b2"]]
    assert iallocator.multi_allocate(Ctx(), cfg, "hail", _items("b1", "b2"))[1] == ["b2"]


def test_multi_allocate_refuses_incomplete_or_malformed_answers(reply):
    cfg = make_cfg()
    reply["reply"] = {"success": True, "info": "", "result": [[["b1", ["node2"]]], []]}
    with pytest.raises(errors.OpExecError, match="incomplete result: b2"):
        iallocator.multi_allocate(Ctx(), cfg, "hail", _items("b1", "b2"))
    reply["reply"] = {"success": True, "info": "", "result": [[["b1", []]], []]}
    with pytest.raises(errors.OpExecError, match="invalid result"):
        iallocator.multi_allocate(Ctx(), cfg, "hail", _items("b1"))
    reply["reply"] = {"success": False, "info": "Request failed: FailMem", "result": []}
    with pytest.raises(errors.OpPrereqError, match="Can't compute nodes using iallocator"):
        iallocator.multi_allocate(Ctx(), cfg, "hail", _items("b1"))


def test_multi_allocate_on_one_node_needs_no_allocator(reply):
    cfg = make_cfg()
    for uuid in ("u2", "u3"):
        cfg["nodes"][uuid]["offline"] = True
    assert iallocator.multi_allocate(Ctx(), cfg, "hail", _items("b1", "b2")) == \
        ([("b1", ["u1"]), ("b2", ["u1"])], [])
    assert reply["asked"] == []


def test_group_evacuation_turns_migrations_into_failovers():
    sub = {"OP_ID": "OP_INSTANCE_MIGRATE", "instance_name": "a1", "target_node": "node3",
           "allow_failover": True, "cleanup": False, "ignore_ipolicy": False}
    assert group._to_failover(sub) == {"OP_ID": "OP_INSTANCE_FAILOVER", "instance_name": "a1",
                                       "target_node": "node3", "cleanup": False,
                                       "ignore_ipolicy": False}
    other = {"OP_ID": "OP_INSTANCE_REPLACE_DISKS", "instance_name": "a1"}
    assert group._to_failover(other) is other
