import json
import os
import time

import pytest

from qganeti import errors, listing

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "data", "ganeti-samples")


def sample_text(name):
    with open(os.path.join(SAMPLES, name)) as handle:
        return handle.read().splitlines()


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def fdef(name, title, kind):
    return {"name": name, "title": title, "kind": kind, "doc": ""}


# The node of the sample cluster, as sample 04 (Query node) answered it,
# completed with the two columns gnt-node-list.txt has on top of it.
NODE_RESULT = {
    "fields": [fdef("name", "Node", "text"), fdef("dtotal", "DTotal", "unit"),
               fdef("dfree", "DFree", "unit"), fdef("mtotal", "MTotal", "unit"),
               fdef("mnode", "MNode", "unit"), fdef("mfree", "MFree", "unit"),
               fdef("pinst_cnt", "Pinst", "number"), fdef("sinst_cnt", "Sinst", "number")],
    "data": [[[0, "node1.example.com"], [0, 258019], [0, 80383], [0, 24105], [0, 333],
              [0, 23578], [0, 22], [0, 0]]],
}


def test_node_list_matches_the_sample():
    assert listing.format_query(NODE_RESULT) == sample_text("gnt-node-list.txt")


def test_node_list_with_a_separator_uses_mib_and_no_padding():
    assert listing.format_query(NODE_RESULT, separator="|", headers=False) == \
        ["node1.example.com|258019|80383|24105|333|23578|22|0"]
    assert listing.format_query(NODE_RESULT, separator="|", units="g")[1] == \
        "node1.example.com|252.0|78.5|23.5|0.3|23.0|22|0"


def test_group_list_matches_the_sample():
    result = {
        "fields": [fdef("name", "Group", "text"), fdef("node_cnt", "Nodes", "number"),
                   fdef("pinst_cnt", "Instances", "number"),
                   fdef("alloc_policy", "AllocPolicy", "text"),
                   fdef("ndparams", "NDParams", "other")],
        "data": [[[0, "default"], [0, 1], [0, 22], [0, "preferred"],
                  [0, {"oob_program": "", "spindle_count": 1, "exclusive_storage": False,
                       "ovs": False, "ovs_name": "switch1", "ovs_link": "", "ssh_port": 22,
                       "cpu_speed": 1}]]],
    }
    assert listing.format_query(result, column_format=listing.LIST_FORMAT["group"]) == \
        sample_text("gnt-group-list.txt")


def test_non_normal_cells_print_their_status():
    result = {"fields": [fdef("a", "A", "text"), fdef("b", "B", "unit"),
                         fdef("c", "C", "text"), fdef("d", "D", "bool")],
              "data": [[[1, None], [2, None], [3, None], [4, None]],
                       [[0, "x"], [0, 2048], [0, "y"], [0, True]]]}
    assert listing.format_query(result) == ["A     B C D", "??    ? - *", "x  2.0G y Y"]
    assert listing.format_query(result, verbose=True, separator=" ") == [
        "A B C D", "(unknown) (nodata) (unavail) (offline)", "x 2048 y Y"]


def test_no_headers_and_last_column_padding():
    result = {"fields": [fdef("name", "Name", "text"), fdef("n", "N", "number")],
              "data": [[[0, "a"], [0, 5]], [[0, "bbb"], [0, 10]]]}
    assert listing.format_query(result, headers=False) == ["a    5", "bbb 10"]
    result["fields"].reverse()
    for row in result["data"]:
        row.reverse()
    # a text column at the end is not padded
    assert listing.format_query(result) == [" N Name", " 5 a", "10 bbb"]


def test_other_values_print_with_str_and_list_overrides_join_them():
    result = {"fields": [fdef("nic.macs", "NIC_MACs", "other"), fdef("tags", "Tags", "other")],
              "data": [[[0, ["aa:00:00:57:fd:fd", "aa:00:00:57:fd:fe"]], [0, []]]]}
    assert listing.format_query(result, headers=False) == \
        ["['aa:00:00:57:fd:fd', 'aa:00:00:57:fd:fe'] []"]
    assert listing.format_query(result, headers=False,
                                column_format=listing.LIST_FORMAT["instance"]) == \
        ["aa:00:00:57:fd:fd,aa:00:00:57:fd:fe "]


def test_timestamps_print_in_local_time(utc):
    result = {"fields": [fdef("ctime", "CTime", "timestamp")],
              "data": [[[0, 1795262174.6137483]]]}
    assert listing.format_query(result, headers=False) == ["2026-11-21 11:56:14"]
    assert listing.format_timestamp([1795262836, 804948]) == "2026-11-21 12:07:16.804948"
    assert listing.format_timestamp(None) == "?"
    assert listing.format_time(None) == "N/A"


def test_job_info_sample_timestamps(utc):
    # gnt-job info prints the job file's timestamps with format_timestamp
    lines = sample_text("gnt-job-info.txt")
    with open(os.path.join(SAMPLES, "state", "queue", "job-1211")) as handle:
        job = json.load(handle)
    assert lines[2] == "  Received:         " + listing.format_timestamp(job["received_timestamp"])
    assert lines[10] == "      Execution start:  " + \
        listing.format_timestamp(job["ops"][0]["exec_timestamp"])


def test_lock_list_formats_empty_values_as_dashes():
    result = {"fields": [fdef("name", "Name", "other"), fdef("mode", "Mode", "other"),
                         fdef("owner", "Owner", "other"), fdef("pending", "Pending", "other")],
              "data": [[[0, "cluster/BGL"], [0, "shared"], [0, ["job/1", "job/2"]],
                        [0, [["exclusive", ["job/3"]], ["shared", ["job/4", "job/5"]]]]],
                       [[0, "node/x"], [0, None], [0, []], [0, []]]]}
    assert listing.format_query(result, column_format=listing.LIST_FORMAT["lock"]) == [
        "Name        Mode   Owner       Pending",
        "cluster/BGL shared job/1,job/2 exclusive:job/3, shared:job/4,job/5",
        "node/x      -      -           -"]
    assert listing.format_query({"fields": result["fields"], "data": []}) == \
        sample_text("gnt-debug-locks.txt")


def test_unknown_fields_and_status():
    result = {"fields": [fdef("name", "Instance", "text"),
                         {"name": "nosuch", "title": "nosuch", "kind": "unknown",
                          "doc": "Unknown field 'nosuch'"}],
              "data": [[[0, "a"], [1, None]]]}
    assert listing.unknown_fields(result) == ["nosuch"]
    assert listing.unknown_fields_warning(result) == "Warning: Queried for unknown fields nosuch"
    assert listing.query_status(result) == listing.QR_UNKNOWN
    assert listing.query_status({"fields": result["fields"], "data": []}) == listing.QR_UNKNOWN
    assert listing.query_status({"fields": result["fields"][:1],
                                 "data": [[[3, None]]]}) == listing.QR_INCOMPLETE
    assert listing.query_status({"fields": result["fields"][:1],
                                 "data": [[[0, "a"]]]}) == listing.QR_NORMAL
    assert listing.unknown_fields_warning({"fields": result["fields"][:1], "data": []}) is None


def test_format_fields_names_the_kinds():
    defs = [{"name": "name", "title": "Instance", "kind": "text", "doc": "Instance name"},
            {"name": "oper_ram", "title": "Memory", "kind": "unit",
             "doc": "Actual memory usage as seen by hypervisor"},
            {"name": "cpu", "title": "Cpu", "kind": "float", "doc": "Speed"}]
    assert listing.format_fields(defs) == [
        "Name     Type                  Title    Description",
        "name     Text                  Instance Instance name",
        "oper_ram Storage size          Memory   Actual memory usage as seen by hypervisor",
        "cpu      Floating-point number Cpu      Speed"]
    assert listing.format_fields(defs[:1], headers=False, separator=":") == \
        ["name:Text:Instance:Instance name"]


@pytest.mark.parametrize("value, units, text", [
    (1, "h", "1M"), (100, "h", "100M"), (1023, "h", "1023M"), (1024, "h", "1.0G"),
    (1536, "h", "1.5G"), (17133, "h", "16.7G"), (1024 * 1024 - 1, "h", "1024.0G"),
    (1024 * 1024, "h", "1.0T"), (5120 * 1024, "h", "5.0T"), (29829 * 1024, "h", "29.1T"),
    (1, "m", "1"), (1024, "m", "1024"), (1, "g", "0.0"), (1024, "g", "1.0"),
    (1024 * 1024, "t", "1.0"), (0, "h", "0M"),
])
def test_format_unit(value, units, text):
    assert listing.format_unit(value, units) == text


def test_format_unit_refuses_bad_units_and_values():
    with pytest.raises(errors.ProgrammerError):
        listing.format_unit(1, "x")
    with pytest.raises(errors.ProgrammerError):
        listing.format_unit("12", "h")


@pytest.mark.parametrize("text, mib", [
    ("1", 4), ("32", 32), ("1.5", 4), ("31.5", 32), ("1M", 4), ("1 m", 4), ("1mb", 4),
    ("1MiB", 4), ("1G", 1024), ("1.5G", 1536), ("1 GiB", 1024), ("1T", 1048576),
    ("0.3t", 314576), (12, 12),
])
def test_parse_unit(text, mib):
    assert listing.parse_unit(text) == mib


@pytest.mark.parametrize("text, message", [
    ("xyz", "Invalid format"), ("", "Invalid format"), ("-1", "Invalid format"),
    ("1XB", "Unknown unit: XB"), ("1..5", "Invalid format"),
])
def test_parse_unit_errors(text, message):
    with pytest.raises(errors.UnitParseError) as info:
        listing.parse_unit(text)
    assert info.value.args == (message,)


def test_parse_keyval():
    assert listing.parse_keyval("") == {}
    assert listing.parse_keyval("a=1,b=x=y,flag,no_other,-reset") == \
        {"a": "1", "b": "x=y", "flag": True, "other": False, "reset": None}
    assert listing.parse_keyval(r"kernel_args=ro console=ttyS0\,115200,x=\\") == \
        {"kernel_args": "ro console=ttyS0,115200", "x": "\\"}
    with pytest.raises(errors.ParameterError) as info:
        listing.parse_keyval("a=1,a=2", opt="-B")
    assert info.value.args == ("Duplicate key 'a' in option -B",)
    with pytest.raises(errors.ParameterError) as info:
        listing.parse_keyval("a", opt="-O", parse_prefixes=False)
    assert info.value.args == ("Missing value for key 'a' in option -O",)


def test_parse_ident_keyval():
    assert listing.parse_ident_keyval("0:size=10G,mode=rw") == ("0", {"size": "10G", "mode": "rw"})
    assert listing.parse_ident_keyval("kvm:kernel_path=/vmlinuz,acpi") == \
        ("kvm", {"kernel_path": "/vmlinuz", "acpi": True})
    assert listing.parse_ident_keyval("add") == ("add", {})
    assert listing.parse_ident_keyval("no_xen-pvm") == ("xen-pvm", False)
    assert listing.parse_ident_keyval("-kvm") == ("kvm", None)
    assert listing.parse_ident_keyval("-1:size=1G") == ("-1", {"size": "1G"})
    with pytest.raises(errors.ParameterError):
        listing.parse_ident_keyval("no_kvm:acpi")


def test_parse_fields():
    default = ["name", "status"]
    assert listing.parse_fields(None, default) == ["name", "status"]
    assert listing.parse_fields("+oper_ram,tags", default) == ["name", "status", "oper_ram", "tags"]
    assert listing.parse_fields("uuid", default) == ["uuid"]
