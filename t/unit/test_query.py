import glob
import json
import os

import pytest

from qganeti import errors, query
from qganeti.query import (NODATA, OFFLINE, UNAVAIL, Field, FieldTable, FilterError,
                           QFT_BOOL, QFT_NUMBER, QFT_OTHER, QFT_TEXT)

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "data", "ganeti-samples")


def luxi_sample(prefix):
    """(request, response) of a captured LUXI exchange."""
    def load(kind):
        path, = glob.glob(os.path.join(SAMPLES, "luxi-samples", "%s-*.%s.bin" % (prefix, kind)))
        with open(path, "rb") as handle:
            return json.loads(handle.read().rstrip(b"\x03"))
    return load("request"), load("response")


def sample_jobs():
    jobs = []
    for path in glob.glob(os.path.join(SAMPLES, "state", "queue", "job-*")):
        with open(path) as handle:
            jobs.append(json.load(handle))
    return jobs


# A small resource to exercise the engine: hosts with a few kinds of values.
def _get(key):
    def getter(item, ctx):
        value = item.get(key, NODATA)
        return value
    return getter


HOSTS = FieldTable([
    Field("name", "Name", QFT_TEXT, "Host name", _get("name"), hostname=True),
    Field("group", "Group", QFT_TEXT, "Group name", _get("group")),
    Field("mem", "Memory", QFT_NUMBER, "Memory", _get("mem")),
    Field("up", "Up", QFT_BOOL, "Running", _get("up")),
    Field("tags", "Tags", QFT_OTHER, "Tags", _get("tags")),
    Field("live", "Live", QFT_NUMBER, "Live value", _get("live"), live=True),
], entity="Host", hostnames=True)

ITEMS = [
    {"uuid": "u3", "name": "web10.example.com", "group": "default", "mem": 512, "up": True,
     "tags": ["a", "b"], "live": 3},
    {"uuid": "u1", "name": "web2.example.com", "group": "Other", "mem": 128, "up": False,
     "tags": [], "live": 1},
    {"uuid": "u2", "name": "db1.example.org", "group": "default", "up": True,
     "tags": ["b"]},
]


def names(qfilter, items=ITEMS):
    result = query.query(HOSTS, items, ["name"], qfilter)
    return [row[0][1] for row in result["data"]]


def test_items_come_nice_sorted_without_a_name_filter():
    assert names(None) == ["db1.example.org", "web2.example.com", "web10.example.com"]


def test_hostname_equality_matches_leading_components_in_any_case():
    assert names(["==", "name", "WEB2"]) == ["web2.example.com"]
    assert names(["|", ["==", "name", "web2.example"], ["==", "name", "db1"]]) == \
        ["web2.example.com", "db1.example.org"]
    assert names(["&", ["?", "up"], ["==", "name", "web"]]) == []


def test_a_name_only_filter_looks_items_up_in_the_order_asked():
    assert names(["|", ["=", "name", "web10"], ["=", "name", "db1"]]) == \
        ["web10.example.com", "db1.example.org"]
    # UUIDs are looked up too (the name filter then still applies)
    assert HOSTS.resolve(ITEMS, ["u2", "web2"], None) == [ITEMS[2], ITEMS[1]]


def test_unknown_or_ambiguous_names_are_errors():
    with pytest.raises(errors.OpPrereqError) as info:
        names(["|", ["=", "name", "nosuch"]])
    assert info.value.args == ("Host name nosuch not found", errors.ECODE_NOENT)
    items = ITEMS + [{"uuid": "u4", "name": "web2.example.org"}]
    with pytest.raises(errors.OpPrereqError) as info:
        names(["|", ["=", "name", "web2"]], items)
    assert info.value.args == ("Host name web2 has multiple matches", errors.ECODE_NOENT)


def test_plain_equality_is_exact_on_other_fields():
    assert names(["==", "group", "default"]) == ["db1.example.org", "web10.example.com"]
    assert names(["==", "group", "other"]) == []
    assert names(["!=", "group", "default"]) == ["web2.example.com"]


def test_ordering_comparisons_on_numbers_and_strings():
    assert names([">", "mem", 128]) == ["db1.example.org", "web10.example.com"]
    assert names(["<=", "mem", 128]) == ["db1.example.org", "web2.example.com"]
    assert names(["<", "group", "Z"]) == ["web2.example.com"]


def test_cells_without_data_let_the_item_through_a_leaf():
    # db1 has no "mem": the comparison accepts it, and `not` then rejects it
    assert "db1.example.org" in names(["==", "mem", 1])
    assert "db1.example.org" not in names(["!", ["==", "mem", 1]])


def test_regexp_is_an_unanchored_search():
    assert names(["=~", "name", "eb1"]) == ["web10.example.com"]
    assert names(["=~", "name", "^web"]) == ["web2.example.com", "web10.example.com"]


def test_contains_tests_list_membership():
    assert names(["=[]", "tags", "b"]) == ["db1.example.org", "web10.example.com"]
    assert names(["!", ["=[]", "tags", "a"]]) == ["db1.example.org", "web2.example.com"]


def test_truth_and_logic_operators():
    assert names(["?", "up"]) == ["db1.example.org", "web10.example.com"]
    assert names(["&"]) == names(None)
    assert names(["|"]) == []
    # db1 has no "mem": its comparison accepts
    assert names(["|", ["!", ["?", "up"]], ["==", "mem", 512]]) == \
        ["db1.example.org", "web2.example.com", "web10.example.com"]


@pytest.mark.parametrize("qfilter, message", [
    (["==", "mem", "x"],
     "Invalid types in comparison, trying to compare 128 with 'QuotedString \"x\"'"),
    (["==", "group", 5],
     "Invalid types in comparison, trying to compare \"default\" with 'NumericValue 5'"),
    ([">", "up", -1],
     "Invalid types in comparison, trying to compare true with 'NumericValue (-1)'"),
    (["?", "group"], "Unexpected value '\"default\"' in boolean context"),
    (["=~", "mem", "5"],
     "Invalid field value used in regexp matching, expecting string but got '128'"),
    (["==", "nosuch", 1], "Can't find field named 'nosuch'"),
])
def test_evaluation_errors_are_worded_like_ganeti(qfilter, message):
    with pytest.raises(errors.ParameterError) as info:
        names(qfilter)
    assert info.value.args[0] == message


def test_unknown_filter_field_fails_even_without_items():
    with pytest.raises(errors.ParameterError):
        query.query(HOSTS, [], ["name"], ["|", ["?", "up"], ["?", "nosuch"]])


@pytest.mark.parametrize("qfilter, message", [
    (["~~", "name", 1], "Unknown filter operand '~~'"),
    (["=", "name"], "Cannot deserialise field/value pair, expected [fieldname, value] but"
                    " got [\"name\"]"),
    (["!", ["?", "a"], ["?", "b"]], "Cannot deserialise field, expected [filter] but got"
                                    " [[\"?\", \"a\"], [\"?\", \"b\"]]"),
    (["?"], "Cannot deserialise field, expected [fieldname] but got []"),
    (["==", "mem", True], "Cannot deserialise filter value, expecting string or integer,"
                          " got true"),
    (["==", "mem", 1.5], "Cannot deserialise numeric filter value, expecting integral but"
                         " got a fractional value: 3 % 2"),
    ([], "Cannot deserialise filter: expected array [string, args], got []"),
    ("name", "Cannot deserialise filter: expected array [string, args], got \"name\""),
])
def test_malformed_filters_fail_to_decode_with_luxid_messages(qfilter, message):
    with pytest.raises(FilterError) as info:
        query.query(HOSTS, ITEMS, ["name"], qfilter)
    assert str(info.value) == message


def test_the_sample_bad_filter_reply_carries_the_decoding_message():
    request, response = luxi_sample("14")
    qfilter = request["args"][2]
    with pytest.raises(FilterError) as info:
        query.decode_filter(qfilter)
    assert response["success"] is False
    assert response["result"].endswith("error: " + str(info.value))
    assert response["result"] == ("Failed to parse request: Cannot convert value '%s', error: %s"
                                  % (query.pp_value(request["args"]), info.value))


def test_unknown_requested_fields_come_back_unknown():
    result = query.query(HOSTS, ITEMS[:1], ["name", "nosuchfield"])
    assert result["fields"][1] == {"name": "nosuchfield", "title": "nosuchfield",
                                   "kind": "unknown", "doc": "Unknown field 'nosuchfield'"}
    assert result["data"] == [[[0, "web10.example.com"], [1, None]]]


def test_marker_values_become_result_statuses():
    table = FieldTable([
        Field("a", "A", QFT_TEXT, "A", lambda item, ctx: NODATA),
        Field("b", "B", QFT_TEXT, "B", lambda item, ctx: UNAVAIL),
        Field("c", "C", QFT_TEXT, "C", lambda item, ctx: OFFLINE),
        Field("d", "D", QFT_TEXT, "D", lambda item, ctx: None),
    ])
    result = query.query(table, [{"name": "x"}], ["a", "b", "c", "d"])
    assert result["data"] == [[[2, None], [3, None], [4, None], [0, None]]]


def test_static_only_predicate_accepts_when_a_live_field_is_needed():
    full = query.filter_predicate(HOSTS, [">", "live", 2])
    first = query.filter_predicate(HOSTS, [">", "live", 2], static_only=True)
    assert [full(item, None) for item in ITEMS] == [True, False, True]
    assert [first(item, None) for item in ITEMS] == [True, True, True]
    mixed = query.filter_predicate(HOSTS, ["&", ["?", "up"], [">", "live", 2]],
                                   static_only=True)
    assert [mixed(item, None) for item in ITEMS] == [True, False, True]


def test_needs_live_looks_at_fields_and_filter():
    assert not query.needs_live(HOSTS, ["name", "mem"])
    assert query.needs_live(HOSTS, ["name", "live"])
    assert query.needs_live(HOSTS, ["name"], ["<", "live", 3])


def test_query_fields_lists_all_nice_sorted_or_the_ones_asked():
    every = query.query_fields(HOSTS)["fields"]
    assert [f["name"] for f in every] == ["group", "live", "mem", "name", "tags", "up"]
    asked = query.query_fields(HOSTS, ["up", "bogus"])["fields"]
    assert asked[0] == {"name": "up", "title": "Up", "kind": "bool", "doc": "Running"}
    assert asked[1]["kind"] == "unknown"


def test_nice_sort_orders_digit_runs_numerically():
    assert query.nice_sort(["inst10", "inst2", "inst1", "a", "inst1b"]) == \
        ["a", "inst1", "inst1b", "inst2", "inst10"]


@pytest.mark.parametrize("value, text", [
    (0.0, "0.0"), (0.001, "1.0e-3"), (0.5, "0.5"), (6, "6.0"), (0.1, "0.1"),
    (1234567.5, "1234567.5"), (12345678.0, "1.2345678e7"), (1e-5, "1.0e-5"),
    (-2.5, "-2.5"), (100.0, "100.0"),
])
def test_show_double_prints_like_haskell(value, text):
    assert query.show_double(value) == text


# -- jobs ------------------------------------------------------------------

def _without_nulls(value):
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


@pytest.mark.parametrize("prefix", ["10", "17"])
def test_job_fields_answer_like_the_sample_query_jobs(prefix):
    request, response = luxi_sample(prefix)
    (job_id,), fields = request["args"]
    result = query.query(query.JOB_FIELDS, sample_jobs(), fields, ["|", ["==", "id", job_id]])
    row, = result["data"]
    assert all(status == 0 for status, _ in row)
    values = [value for _, value in row]
    expected, = response["result"]
    # luxid re-serialises the opcodes and leaves out unset optional
    # parameters; the job file keeps them as null
    assert _without_nulls(values) == _without_nulls(expected)


def test_job_list_matches_the_sample_gnt_job_list_lines():
    from qganeti import listing
    result = query.query(query.JOB_FIELDS, sample_jobs(), ["id", "status", "summary"])
    lines = listing.format_query(result, column_format=listing.LIST_FORMAT["job"])
    with open(os.path.join(SAMPLES, "gnt-job-list.txt")) as handle:
        sample = handle.read().splitlines()
    wanted = {job["id"] for job in sample_jobs()}
    expected = [sample[0]] + [line for line in sample[1:] if int(line.split()[0]) in wanted]
    assert lines == expected


def test_jobs_that_cannot_be_loaded_are_unavailable_but_keep_their_id():
    result = query.query(query.JOB_FIELDS, sample_jobs(), ["id", "status", "summary"],
                         ["|", ["==", "id", 99999], ["==", "id", "1217"]])
    assert result["data"] == [[[0, 99999], [3, None], [3, None]],
                              [[0, 1217], [0, "success"], [0, ["TEST_DELAY(0.5)"]]]]


def test_job_id_filters_accept_id_strings():
    result = query.query(query.JOB_FIELDS, sample_jobs(), ["id"], [">=", "id", "1217"])
    assert [row[0][1] for row in result["data"]] == [1217, 1218, 1219]
    with pytest.raises(errors.GenericError):
        query.query(query.JOB_FIELDS, sample_jobs(), ["id"], ["==", "id", "x"])


def test_job_timestamps_filter_by_seconds():
    result = query.query(query.JOB_FIELDS, sample_jobs(), ["id"],
                         ["&", [">=", "received_ts", 1795262852], ["<=", "end_ts", 1795262873]])
    # job 1219 ended at [1795262873, 300328]: only the seconds count
    assert [row[0][1] for row in result["data"]] == [1217, 1218, 1219]


def test_job_archived_comes_from_the_context():
    ctx = query.JobContext(archived=[1])
    result = query.query(query.JOB_FIELDS, sample_jobs(), ["id", "archived"],
                         ["?", "archived"], ctx)
    assert result["data"] == [[[0, 1], [0, True]]]


@pytest.mark.parametrize("statuses, status", [
    ([], "success"),
    (["success", "success"], "success"),
    (["success", "queued"], "queued"),
    (["success", "waiting", "queued"], "waiting"),
    (["running", "queued"], "running"),
    (["success", "error", "error"], "error"),
    (["canceling", "queued"], "canceling"),
    (["success", "canceled"], "canceled"),
])
def test_job_status_follows_ganetis_rule(statuses, status):
    job = {"id": 1, "ops": [{"status": s, "priority": 0} for s in statuses]}
    assert query.job_status(job) == status


def test_job_priority_is_the_lowest_of_unfinished_opcodes():
    job = {"id": 1, "ops": [{"status": "success", "priority": -20},
                            {"status": "queued", "priority": 10},
                            {"status": "waiting", "priority": 5}]}
    assert query.job_priority(job) == 5
    assert query.job_priority({"id": 1, "ops": [{"status": "error", "priority": 3}]}) == 0


@pytest.mark.parametrize("opcode, summary", [
    ({"OP_ID": "OP_INSTANCE_STARTUP", "instance_name": "web1"}, "INSTANCE_STARTUP(web1)"),
    ({"OP_ID": "OP_TEST_DELAY", "duration": 0.001}, "TEST_DELAY(1.0e-3)"),
    ({"OP_ID": "OP_TEST_DELAY", "duration": 6}, "TEST_DELAY(6.0)"),
    ({"OP_ID": "OP_CLUSTER_VERIFY"}, "CLUSTER_VERIFY"),
    ({"OP_ID": "OP_CLUSTER_VERIFY_GROUP", "group_name": "g"}, "CLUSTER_VERIFY_GROUP(g)"),
    ({"OP_ID": "OP_TAGS_GET", "kind": "cluster", "name": ""}, "TAGS_GET(None)"),
    ({"OP_ID": "OP_TAGS_GET", "kind": "node", "name": "n1"}, "TAGS_GET(n1)"),
    ({"OP_ID": "OP_TEST_ALLOCATOR", "iallocator": None}, "TEST_ALLOCATOR(None)"),
    ({"OP_ID": "OP_NODE_ADD", "node_name": "n2"}, "NODE_ADD(n2)"),
    ({}, "INVALID_OP"),
    ("garbage", "INVALID_OP"),
])
def test_op_summary(opcode, summary):
    assert query.op_summary(opcode) == summary


def test_job_field_definitions():
    fields = query.query_fields(query.JOB_FIELDS)["fields"]
    assert len(fields) == 16
    by_name = {f["name"]: f for f in fields}
    assert by_name["priority"]["doc"] == "Current job priority (19 to -20)"
    assert by_name["received_ts"] == {
        "name": "received_ts", "title": "Received", "kind": "other",
        "doc": "Timestamp of when job was received (tuple containing seconds and"
               " microseconds)"}


# -- locks -----------------------------------------------------------------

LOCKS = [
    ["node/2ae3", "exclusive", ["job/12"], []],
    ["cluster/BGL", "shared", ["job/12", "job/13"], [["exclusive", ["job/14"]]]],
    ["instance/web1", None, [], []],
]


def test_lock_fields():
    result = query.query(query.LOCK_FIELDS, LOCKS, ["name", "mode", "owner", "pending"])
    assert [f["name"] for f in result["fields"]] == ["name", "mode", "owner", "pending"]
    assert result["data"] == [
        [[0, "cluster/BGL"], [0, "shared"], [0, ["job/12", "job/13"]],
         [0, [["exclusive", ["job/14"]]]]],
        [[0, "instance/web1"], [0, None], [0, []], [0, []]],
        [[0, "node/2ae3"], [0, "exclusive"], [0, ["job/12"]], [0, []]],
    ]
    result = query.query(query.LOCK_FIELDS, LOCKS, ["name", "mode"],
                         ["|", ["==", "name", "instance/nosuch"]])
    assert result["data"] == [[[0, "instance/nosuch"], [0, None]]]
    assert [f["doc"] for f in query.query_fields(query.LOCK_FIELDS)["fields"]] == [
        "Mode in which the lock is currently acquired (exclusive or shared)",
        "Lock name", "Current lock owner(s)", "Jobs waiting for the lock"]


def test_jobs_can_be_selected_by_id_before_their_files_are_loaded():
    assert not query.needs_live(query.JOB_FIELDS, ["id"], [">", "id", 5])
    assert query.needs_live(query.JOB_FIELDS, ["id", "oplog"])
    first = query.filter_predicate(query.JOB_FIELDS, ["&", [">", "id", 1000],
                                                      ["==", "status", "error"]],
                                   static_only=True)
    stubs = [{"id": job_id} for job_id in (1, 534, 1211, 1218)]
    assert [stub["id"] for stub in stubs if first(stub, None)] == [1211, 1218]
    full = query.filter_predicate(query.JOB_FIELDS, ["&", [">", "id", 1000],
                                                     ["==", "status", "error"]])
    assert sorted(job["id"] for job in sample_jobs() if full(job, None)) == [1215, 1218]
