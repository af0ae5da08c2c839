from qganeti import jqueue, opcodes


def _job(*statuses):
    ops = [opcodes.validate({"OP_ID": "OP_TEST_DELAY", "duration": 1})] * len(statuses)
    job = jqueue.new_job(7, ops, [100, 5])
    for op, st in zip(job["ops"], statuses):
        op["status"] = st
    return job


def test_status_follows_ganetis_rules():
    assert jqueue.status(_job("success", "success")) == "success"
    assert jqueue.status(_job("success", "queued")) == "queued"
    assert jqueue.status(_job("running", "queued")) == "running"
    assert jqueue.status(_job("waiting", "queued")) == "waiting"
    assert jqueue.status(_job("error", "error")) == "error"
    assert jqueue.status(_job("success", "canceled", "canceled")) == "canceled"


def test_new_job_appends_the_opcode_reason_and_stamps_received_time():
    job = _job("queued", "queued")
    reasons = job["ops"][1]["input"]["reason"]
    assert reasons[-1][:2] == ["gnt:opcode:test_delay", "job=7;index=1"]
    assert reasons[-1][2] == 100 * 10**9 + 5 * 1000
    assert job["received_timestamp"] == [100, 5]


def test_priority_is_the_most_urgent_unfinished_opcode():
    job = _job("success", "queued", "queued")
    job["ops"][0]["priority"] = -20
    job["ops"][1]["priority"] = 10
    job["ops"][2]["priority"] = -10
    assert jqueue.priority(job) == -10


def test_finalize_rest_marks_later_opcodes():
    job = _job("error", "queued")
    jqueue.finalize_rest(job, 1, "error", ["OpExecError", ["Preceding opcode failed"]])
    assert job["ops"][1]["status"] == "error"
    assert job["end_timestamp"] is not None
