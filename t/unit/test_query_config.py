import copy
import glob
import json
import os

import pytest

from qganeti import errors, listing, query
from qganeti.qfields import ConfigContext

DATA = os.path.join(os.path.dirname(__file__), "..", "data")
SAMPLES = os.path.join(DATA, "ganeti-samples")
NODE1 = "408d634e-1a37-4c3c-a06d-2780d2d7d54d"

# Ganeti's 2.16 test config: three nodes, a DRBD instance on node1/node3,
# two plain ones, a network and a second group
G_NODE1 = "9a12d554-75c0-4cb1-8064-103365145db0"
G_NODE2 = "2ae3d962-2dad-44f2-bdb1-85f77107f907"
G_NODE3 = "41f9c238-173c-4120-9e41-04ad379b647a"
G_NET = "99f0128a-1c84-44da-90b9-9581ea00c075"
G_DEFAULT = "5244a46d-7506-4e14-922d-02b58153dde1"
G_ANOTHER = "6c0a8916-b719-45ad-95dd-82192b1e473f"


def load(path):
    with open(path) as handle:
        return json.load(handle)


def sample_config():
    return load(os.path.join(SAMPLES, "state", "config.data.pretty.json"))


def ganeti_config():
    return load(os.path.join(DATA, "ganeti", "configs", "cluster_config_2.16.json"))


def luxi_sample(prefix):
    def one(kind):
        path, = glob.glob(os.path.join(SAMPLES, "luxi-samples", "%s-*.%s.bin" % (prefix, kind)))
        with open(path, "rb") as handle:
            return json.loads(handle.read().rstrip(b"\x03"))
    return one("request"), one("response")


def sample_text(name):
    with open(os.path.join(SAMPLES, name)) as handle:
        return handle.read().splitlines()


def sample_context(config=None, **changes):
    """The sample cluster as it was captured: node1 answering with the
    figures of sample 04, inst31 running on it."""
    config = config or sample_config()
    live = dict(node_live={NODE1: {"mtotal": 24105, "mfree": 23578, "dtotal": 258019,
                                   "dfree": 80383, "mnode": 333}},
                instance_live={"inst31.example.com": {"node": NODE1, "state": "running",
                                                      "memory": 128, "vcpus": 1}})
    live.update(changes)
    return ConfigContext(config, **live)


TABLES = {"instance": (query.INSTANCE_FIELDS, "instances"), "node": (query.NODE_FIELDS, "nodes"),
          "group": (query.GROUP_FIELDS, "nodegroups"),
          "network": (query.NETWORK_FIELDS, "networks")}


def run(kind, fields, qfilter=None, ctx=None):
    table, key = TABLES[kind]
    ctx = ctx or sample_context()
    return query.query(table, list(ctx.config[key].values()), fields, qfilter, ctx)


def column(kind, field, qfilter=None, ctx=None):
    return [row[0] for row in run(kind, [field], qfilter, ctx)["data"]]


def test_field_catalogue_sizes_are_ganetis():
    assert len(query.INSTANCE_FIELDS) == 292 + 1   # Ganeti's 292, and snapshots
    assert len(query.NODE_FIELDS) == 46
    assert len(query.GROUP_FIELDS) == 25
    assert len(query.NETWORK_FIELDS) == 19


@pytest.mark.parametrize("prefix", ["02", "03", "04", "13"])
def test_query_replies_match_the_captured_ones(prefix):
    request, response = luxi_sample(prefix)
    kind, fields, qfilter = request["args"]
    assert run(kind, fields, qfilter) == response["result"]


def test_query_fields_reply_matches_the_captured_one():
    request, response = luxi_sample("05")
    kind, names = request["args"]
    assert query.query_fields(TABLES[kind][0], names) == response["result"]


@pytest.mark.parametrize("kind, sample", [("instance", "gnt-instance-list.txt"),
                                          ("node", "gnt-node-list.txt"),
                                          ("group", "gnt-group-list.txt")])
def test_default_listings_print_like_the_samples(kind, sample):
    result = run(kind, listing.DEFAULT_FIELDS[kind])
    lines = listing.format_query(result, column_format=listing.LIST_FORMAT[kind])
    assert lines == sample_text(sample)


def test_field_definitions_of_parameters_and_indexed_fields():
    defs = {f["name"]: f for f in query.query_fields(query.INSTANCE_FIELDS)["fields"]}
    assert defs["hv/acpi"] == {"name": "hv/acpi", "title": "ACPI", "kind": "bool",
                               "doc": 'The "acpi" hypervisor parameter'}
    assert defs["hv/kernel_args"]["title"] == "hv/kernel_args"
    assert defs["hv/kernel_args"]["kind"] == "other"
    assert defs["hv/cpu_cores"]["kind"] == "number"
    assert "hv/migration_port" not in defs
    assert defs["be/maxmem"] == {"name": "be/maxmem", "title": "ConfigMaxMem", "kind": "unit",
                                 "doc": 'The "maxmem" backend parameter'}
    assert defs["vcpus"] == dict(defs["be/vcpus"], name="vcpus")
    assert defs["disk.size/15"] == {"name": "disk.size/15", "title": "Disk/15", "kind": "unit",
                                    "doc": "Disk size of 16th disk"}
    assert defs["nic.mac/2"]["doc"] == "MAC address of 3rd network interface"
    assert "nic.ip/8" not in defs and "disk.size/16" not in defs
    names = list(defs)
    assert names == query.nice_sort(names)
    node_defs = {f["name"]: f for f in query.query_fields(query.NODE_FIELDS)["fields"]}
    assert node_defs["ndp/cpu_speed"]["kind"] == "float"
    assert node_defs["ndp/oob_program"]["title"] == "OutOfBandProgram"
    assert node_defs["serial_no"]["doc"] == \
        "Node object serial number, incremented on each modification"


# -- instances -------------------------------------------------------------

def test_instance_names_are_looked_up_by_short_name():
    assert column("instance", "name", ["|", ["=", "name", "inst1"]]) == [[0, "inst1.example.com"]]
    assert column("instance", "name", ["|", ["=", "name", "rapi1"], ["=", "name", "inst3"]]) == \
        [[0, "rapi1.example.com"], [0, "inst3.example.com"]]
    with pytest.raises(errors.OpPrereqError) as info:
        run("instance", ["name"], ["|", ["=", "name", "nosuch"]])
    assert info.value.args == ("Instance name nosuch not found", errors.ECODE_NOENT)


def test_primary_node_filters_match_short_names():
    assert len(column("instance", "name", ["==", "pnode", "node1"])) == 22
    assert column("instance", "name", ["==", "pnode", "node2"]) == []


def _status_of(config, ctx_changes=None, **inst_changes):
    inst = config["instances"]["01ae9165-91ed-4142-9c60-3dade8877300"]   # inst11
    inst.update(inst_changes)
    ctx = sample_context(config, **(ctx_changes or {}))
    row, = run("instance", ["status", "oper_state", "oper_ram", "oper_vcpus"],
               ["|", ["=", "name", "inst11"]], ctx)["data"]
    return row


RUNNING = {"inst11.example.com": {"node": NODE1, "state": "running", "memory": 512, "vcpus": 2}}


@pytest.mark.parametrize("admin, live, status, running, ram", [
    ("down", {}, "ADMIN_down", [0, False], [3, None]),
    ("up", {}, "ERROR_down", [0, False], [3, None]),
    ("offline", {}, "ADMIN_offline", [0, False], [3, None]),
    ("up", RUNNING, "running", [0, True], [0, 512]),
    ("down", RUNNING, "ERROR_up", [0, True], [0, 512]),
    ("up", {"inst11.example.com": {"node": "elsewhere", "memory": 512}}, "ERROR_wrongnode",
     [0, True], [0, 512]),
    ("up", {"inst11.example.com": {"node": NODE1, "state": "shutdown", "memory": 512}},
     "ERROR_down", [0, True], [0, 512]),
])
def test_instance_status_from_config_and_hypervisor(admin, live, status, running, ram):
    row = _status_of(sample_config(), {"instance_live": live}, admin_state=admin)
    assert row[:3] == [[0, status], running, ram]


def test_instance_on_a_node_that_gave_no_data_is_nodedown():
    row = _status_of(sample_config(), {"node_live": {NODE1: None}})
    assert row == [[0, "ERROR_nodedown"], [2, None], [2, None], [2, None]]
    row = _status_of(sample_config(), {"live": False})
    assert row == [[0, "ERROR_nodedown"], [2, None], [2, None], [2, None]]


def test_instance_on_an_offline_node():
    config = sample_config()
    config["nodes"][NODE1]["offline"] = True
    row = _status_of(config)
    assert row == [[0, "ERROR_nodeoffline"], [2, None], [4, None], [4, None]]


def test_user_shutdown_shows_as_user_down_when_the_cluster_allows_it():
    config = sample_config()
    assert _status_of(config, admin_state_source="user")[0] == [0, "ADMIN_down"]
    config = sample_config()
    config["cluster"]["enabled_user_shutdown"] = True
    assert _status_of(config, admin_state_source="user")[0] == [0, "USER_down"]
    config = sample_config()
    config["cluster"]["enabled_user_shutdown"] = True
    live = {"instance_live": {"inst11.example.com": {"node": NODE1, "state": "shutdown"}}}
    assert _status_of(config, live, admin_state="up")[0] == [0, "USER_down"]


def test_drbd_instance_has_secondary_nodes_and_derived_disk_values():
    ctx = ConfigContext(ganeti_config(), node_live={G_NODE1: {}, G_NODE2: {}, G_NODE3: {}})
    result = run("instance", ["name", "pnode", "snodes", "snodes.group", "disk_template",
                              "disk.count", "disk.sizes", "disk_usage", "disk.size/0",
                              "disk.size/1", "disk.uuid/0", "disk.names", "pnode.group"],
                 None, ctx)
    rows = {row[0][1]: [cell for cell in row] for row in result["data"]}
    assert rows["instance1.example.com"][1:] == [
        [0, "node1.example.com"], [0, ["node3.example.com"]], [0, ["default"]], [0, "drbd"],
        [0, 1], [0, [1024]], [0, 1024 + 128], [0, 1024], [3, None],
        [0, "77ced3a5-6756-49ae-8d1f-274e27664c05"], [0, [None]], [0, "default"]]
    assert rows["instance2.example.com"][2:8] == [
        [0, []], [0, []], [0, "plain"], [0, 1], [0, [102400]], [0, 102400]]


def test_disk_values_are_nodata_when_a_disk_is_missing():
    config = ganeti_config()
    del config["disks"]["77ced3a5-6756-49ae-8d1f-274e27664c05"]
    ctx = ConfigContext(config)
    row, = run("instance", ["disk_template", "disk.sizes", "disk.size/0", "disk.count"],
               ["|", ["=", "name", "instance1"]], ctx)["data"]
    assert row == [[2, None], [2, None], [2, None], [0, 1]]


def test_node_counts_follow_drbd_secondaries():
    ctx = ConfigContext(ganeti_config())
    result = run("node", ["name", "pinst_cnt", "sinst_cnt", "pinst_list", "sinst_list", "role",
                          "master", "group"], None, ctx)
    assert [[cell[1] for cell in row] for row in result["data"]] == [
        ["node1.example.com", 1, 0, ["instance1.example.com"], [], "M", True, "default"],
        ["node2.example.com", 1, 0, ["instance3.example.com"], [], "C", False, "default"],
        ["node3.example.com", 1, 1, ["instance2.example.com"], ["instance1.example.com"], "C",
         False, "default"],
    ]


def test_parameters_are_filled_from_cluster_os_and_instance():
    config = ganeti_config()
    inst = config["instances"]["6c078d22-3eb6-4780-857d-81772e09eef1"]   # instance1, busybox
    inst["os"] = "TEMP-Ganeti-QA-OS"
    inst["hvparams"] = {"kernel_args": "ro single"}
    inst["beparams"] = {"maxmem": 1024}
    ctx = ConfigContext(config)
    row, = run("instance", ["hv/root_path", "hv/kernel_args", "hv/kernel_path", "hv/acpi",
                            "be/maxmem", "be/memory", "be/minmem", "vcpus", "beparams",
                            "custom_hvparams", "hv/migration_port"],
               ["|", ["=", "name", "instance1"]], ctx)["data"]
    cluster_pvm = config["cluster"]["hvparams"]["xen-pvm"]
    assert row[:8] == [[0, "/dev/sda5"], [0, "ro single"], [0, cluster_pvm["kernel_path"]],
                       [3, None], [0, 1024], [0, 1024], [0, 128], [0, 1]]
    assert row[8] == [0, {"minmem": 128, "maxmem": 1024, "vcpus": 1, "auto_balance": True,
                          "always_failover": False, "spindle_use": 1}]
    assert row[9] == [0, {"kernel_args": "ro single"}]
    assert row[10][0] == 1    # cluster-wide parameters have no instance field
    hvparams = run("instance", ["hvparams"], ["|", ["=", "name", "instance1"]], ctx)["data"]
    filled = hvparams[0][0][1]
    assert "migration_port" not in filled and filled["root_path"] == "/dev/sda5"
    assert list(filled) == sorted(filled)


def test_backend_parameters_without_cluster_defaults_have_no_data():
    config = ganeti_config()
    del config["cluster"]["beparams"]["default"]
    row, = run("instance", ["be/maxmem", "beparams"], ["|", ["=", "name", "instance2"]],
               ConfigContext(config))["data"]
    assert row == [[2, None], [2, None]]


def test_nic_fields_fill_parameters_and_name_networks():
    config = ganeti_config()
    inst = config["instances"]["8fde9f6d-e1f1-4850-9e9c-154966f622f5"]   # instance2
    inst["nics"].append({"mac": "aa:bb:cc:00:00:01", "ip": "203.0.113.7", "network": G_NET,
                         "name": "second", "uuid": "nic-2",
                         "nicparams": {"mode": "openvswitch", "link": "ovs0", "vlan": ".100"}})
    ctx = ConfigContext(config)
    fields = ["nic.count", "nic.macs", "nic.ips", "nic.modes", "nic.links", "nic.bridges",
              "nic.vlans", "nic.networks", "nic.networks.names", "nic.names", "nic.mode/0",
              "nic.bridge/0", "nic.vlan/0", "nic.vlan/1", "nic.ip/0", "nic.ip/1",
              "nic.network.name/1", "nic.mac/2", "bridge", "ip", "custom_nicparams"]
    row, = run("instance", fields, ["|", ["=", "name", "instance2"]], ctx)["data"]
    assert dict(zip(fields, row)) == {
        "nic.count": [0, 2],
        "nic.macs": [0, ["aa:bb:cc:56:83:fb", "aa:bb:cc:00:00:01"]],
        "nic.ips": [0, [None, "203.0.113.7"]],
        "nic.modes": [0, ["bridged", "openvswitch"]],
        "nic.links": [0, ["br974", "ovs0"]],
        "nic.bridges": [0, ["br974", None]],
        "nic.vlans": [0, [None, ".100"]],
        "nic.networks": [0, [None, G_NET]],
        "nic.networks.names": [0, [None, "a network"]],
        "nic.names": [0, [None, "second"]],
        "nic.mode/0": [0, "bridged"],
        "nic.bridge/0": [0, "br974"],
        "nic.vlan/0": [3, None],
        "nic.vlan/1": [0, ".100"],
        "nic.ip/0": [3, None],
        "nic.ip/1": [0, "203.0.113.7"],
        "nic.network.name/1": [0, "a network"],
        "nic.mac/2": [3, None],
        "bridge": [0, "br974"],
        "ip": [3, None],
        "custom_nicparams": [0, [{}, {"mode": "openvswitch", "link": "ovs0", "vlan": ".100"}]],
    }


def test_instance_common_fields():
    row, = run("instance", ["uuid", "serial_no", "ctime", "tags", "forthcoming", "admin_up",
                            "network_port", "console"], ["|", ["=", "name", "inst1"]])["data"]
    assert row[0] == [0, "84a319c8-036b-400b-9dce-8c1d8f3f42be"]
    assert row[1][1] > 0 and isinstance(row[2][1], float)
    assert row[3:] == [[0, []], [0, False], [0, False], [3, None], [2, None]]


# -- nodes and groups ------------------------------------------------------

def test_node_live_fields_and_their_statuses():
    fields = ["mtotal", "mnode", "ctotal", "bootid"]
    assert run("node", fields)["data"] == [[[0, 24105], [0, 333], [2, None], [2, None]]]
    ctx = sample_context(node_live={})
    assert run("node", fields, None, ctx)["data"] == [[[2, None]] * 4]
    config = sample_config()
    config["nodes"][NODE1]["offline"] = True
    assert run("node", fields + ["role"], None, sample_context(config))["data"] == \
        [[[4, None]] * 4 + [[0, "M"]]]


def test_node_filters_on_live_data_accept_missing_data():
    assert len(run("node", ["name"], [">", "mfree", 1000])["data"]) == 1
    assert len(run("node", ["name"], ["<", "mfree", 1000])["data"]) == 0
    assert len(run("node", ["name"], ["<", "ctotal", 1])["data"]) == 1   # no data: accepted


def test_node_and_group_parameters_are_merged():
    config = ganeti_config()
    config["nodes"][G_NODE2]["group"] = G_ANOTHER
    config["nodes"][G_NODE2]["ndparams"] = {"spindle_count": 4}
    ctx = ConfigContext(config)
    rows = {row[0][1]: row for row in run("node", ["name", "ndparams", "ndp/exclusive_storage",
                                                   "ndp/spindle_count", "powered", "group",
                                                   "custom_ndparams"], None, ctx)["data"]}
    node2 = rows["node2.example.com"]
    assert node2[1][1]["exclusive_storage"] is True and node2[1][1]["spindle_count"] == 4
    assert list(node2[1][1])[:3] == ["oob_program", "spindle_count", "exclusive_storage"]
    assert node2[2:] == [[0, True], [0, 4], [3, None], [0, "another"],
                         [0, {"spindle_count": 4}]]
    assert rows["node1.example.com"][2] == [0, False]


def test_group_fields():
    config = ganeti_config()
    config["nodes"][G_NODE2]["group"] = G_ANOTHER
    ctx = ConfigContext(config)
    result = run("group", ["name", "node_cnt", "node_list", "pinst_cnt", "pinst_list",
                           "ndp/exclusive_storage", "alloc_policy", "custom_ipolicy"], None, ctx)
    rows = {row[0][1]: [cell[1] for cell in row] for row in result["data"]}
    assert rows["another"][1:6] == [1, ["node2.example.com"], 1, ["instance3.example.com"], True]
    # nodes come in UUID order, as luxid lists them; instances nice-sorted
    assert rows["default"][1:6] == [2, ["node3.example.com", "node1.example.com"], 2,
                                    ["instance1.example.com", "instance2.example.com"], False]
    row, = run("group", ["ipolicy", "diskparams"], ["==", "name", "another"], ctx)["data"]
    ipolicy = row[0][1]
    cluster = config["cluster"]["ipolicy"]
    own = config["nodegroups"][G_ANOTHER]["ipolicy"]
    assert ipolicy["minmax"] == own["minmax"]
    assert ipolicy["std"] == cluster["std"]
    assert ipolicy["vcpu-ratio"] == 3.14 and ipolicy["disk-templates"] == ["plain"]
    assert row[1][1] == dict(sorted(config["cluster"]["diskparams"].items()))


def test_group_names_are_not_hostnames():
    assert column("group", "name", ["==", "name", "default"]) == [[0, "default"]]
    assert column("group", "name", ["&", ["==", "name", "DEFAULT"]]) == []
    with pytest.raises(errors.OpPrereqError) as info:
        column("group", "name", ["==", "name", "DEFAULT"])
    assert info.value.args == ("NodeGroup name DEFAULT not found", errors.ECODE_NOENT)


# -- networks --------------------------------------------------------------

def test_network_fields():
    config = ganeti_config()
    config["nodegroups"][G_DEFAULT]["networks"] = {G_NET: {"mode": "bridged", "link": "br1"}}
    inst = config["instances"]["8fde9f6d-e1f1-4850-9e9c-154966f622f5"]
    inst["nics"][0]["network"] = G_NET
    ctx = ConfigContext(config)
    fields = ["name", "network", "gateway", "mac_prefix", "free_count", "reserved_count",
              "map", "group_list", "group_cnt", "inst_list", "inst_cnt",
              "external_reservations", "serial_no", "tags"]
    row, = run("network", fields, None, ctx)["data"]
    assert dict(zip(fields, row)) == {
        "name": [0, "a network"], "network": [0, "203.0.113.0/24"], "gateway": [3, None],
        "mac_prefix": [3, None], "free_count": [0, 254], "reserved_count": [0, 2],
        "map": [0, "X" + "." * 254 + "X"],
        "group_list": [0, [["default", "bridged", "br1", "-"]]], "group_cnt": [0, 1],
        "inst_list": [0, ["instance2.example.com"]], "inst_cnt": [0, 1],
        "external_reservations": [0, "203.0.113.0, 203.0.113.255"],
        "serial_no": [0, 1], "tags": [0, []],
    }
    lines = listing.format_query(run("network", listing.DEFAULT_FIELDS["network"], None, ctx),
                                 column_format=listing.LIST_FORMAT["network"])
    group_list = "default (bridged, br1, -)"
    assert lines == ["Network   Subnet         Gateway MacPrefix %s Tags"
                     % "GroupList".ljust(len(group_list)),
                     "a network 203.0.113.0/24 -       -         %s " % group_list]


def test_context_caches_do_not_leak_between_snapshots():
    first = ConfigContext(ganeti_config())
    config = copy.deepcopy(first.config)
    config["instances"]["4e091bdc-e205-4ed7-8a47-0c9130a6619f"]["primary_node"] = G_NODE1
    second = ConfigContext(config)
    assert column("node", "pinst_cnt", ["==", "name", "node1"], first) == [[0, 1]]
    assert column("node", "pinst_cnt", ["==", "name", "node1"], second) == [[0, 2]]


def test_timestamps_are_numbers_as_luxid_encodes_its_doubles():
    row, = run("group", ["ctime", "mtime"])["data"]
    assert row == [[0, 0], [0, 1795262174.6160152]]
    assert isinstance(row[0][1], int)
