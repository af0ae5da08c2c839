#!/usr/bin/env bats
# luxid: the LUXI protocol, bad input, and surviving crashes.

load lib/common

teardown() {
    destroy_cluster
}

@test "malformed messages, unknown methods and bad arguments get error replies" {
    init_cluster
    run luxi_raw 'b"this is not json\x03"'
    assert_output --regexp '^\{"success":false,"result":"Failed to parse request: '
    run luxi_raw 'b"{\"method\":\"NoSuchMethod\",\"args\":[]}\x03"'
    assert_output --partial 'Invalid string value for type LuxiReq: \"NoSuchMethod\"'
    assert_output --partial '"success":false'
    run luxi_raw 'b"{\"method\":\"WaitForJobChange\",\"args\":[\"x\",[],null,null,1]}\x03"'
    assert_output --partial '"success":false'
    run luxi_raw 'b"{\"method\":\"SubmitJob\",\"args\":[[{\"OP_ID\":\"OP_NO_SUCH\"}]]}\x03"'
    assert_output --partial '"success":false'
    assert_output --partial 'OP_NO_SUCH'
    run luxi_raw 'b"{\"method\":\"SubmitJob\",\"args\":[[{\"OP_ID\":\"OP_TEST_DELAY\",\"duration\":\"soon\"}]]}\x03"'
    assert_output --partial '["OpPrereqError",["Parameter '"'"'OP_TEST_DELAY.duration'"'"' fails validation","wrong_input"]]'
    run luxi_raw 'b"{\"method\":\"Query\",\"args\":[\"nosuchresource\",[\"name\"],null]}\x03"'
    assert_output --partial "Can't parse value 'nosuchresource'"
    run luxi_raw 'b"{\"method\":\"WaitForJobChange\",\"args\":[999999,[\"status\"],null,null,1]}\x03"'
    assert_output '{"success":false,"result":["JobLost",["Can'"'"'t load job file"]],"version":3000000}'
    # and it still serves
    run luxi_raw 'b"{\"method\":\"QueryConfigValues\",\"args\":[[\"cluster_name\",\"drain_flag\"]]}\x03"'
    assert_output '{"success":true,"result":["cluster.example.com",false],"version":3000000}'
}

@test "pipelined requests on one connection are answered in order" {
    init_cluster
    run luxi_raw 'b"{\"method\":\"QueryConfigValues\",\"args\":[[\"cluster_name\"]]}\x03{\"method\":\"QueryConfigValues\",\"args\":[[\"master_node\"]]}\x03"'
    assert_output --partial '"result":["cluster.example.com"]'
}

@test "jobs run as processes named after their opcode" {
    init_cluster
    run gnt-debug delay --submit 3
    jid=${output#JobID: }
    wait_until "ps -eo args | grep -q '[o]p/test-delay --job $jid --duration 3'" 10
    run gnt-job cancel --kill --yes-do-it "$jid"
    assert_success
}

@test "kill -9 of luxid with 100 jobs in flight: every job succeeds exactly once" {
    init_cluster
    "$PYTHON" - <<'PYEOF'
import sys
sys.path.insert(0, "lib")
from qganeti import luxi
client = luxi.Client()
ops = [[{"OP_ID": "OP_TEST_DELAY", "duration": 0.3}] for _ in range(100)]
assert all(ok for ok, _ in client.SubmitManyJobs(ops))
PYEOF
    wait_until "[ \$(gnt-job list --no-headers --running | wc -l) -gt 0 ]" 10
    kill -9 "$(cat "$QGANETI_ROOT/var/run/qganeti/luxid.pid")"
    sleep 0.5
    run "$LIBEXEC/daemon-util" start luxid
    assert_success
    wait_until "[ \$(gnt-job list --no-headers -o status | grep -cvE 'success|error|canceled') -eq 0 ]" 60
    run gnt-job list --no-headers -o status
    [ "$(echo "$output" | grep -c success)" -eq 101 ]
    # each of the 100 jobs ran its opcode once (jobs.log has one "running" line each)
    log=$QGANETI_ROOT/var/log/qganeti/jobs.log
    for jid in $(seq 2 101); do
        n=$(grep -c " job $jid op 0 OP_TEST_DELAY .*: running$" "$log")
        [ "$n" -eq 1 ] || fail "job $jid started $n times"
    done
}

@test "kill -9 of a job process holding locks: job fails, locks freed, waiter runs" {
    init_cluster
    run gnt-debug delay --submit 60
    first=${output#JobID: }
    wait_until "[ \"\$(job_status $first)\" = running ]" 10
    run gnt-debug delay --submit 0.5
    second=${output#JobID: }
    wait_until "[ \"\$(job_status $second)\" = waiting ]" 10
    pid=$(grep -o '"process_id":[0-9]*' "$QGANETI_ROOT/var/lib/qganeti/queue/job-$first" | cut -d: -f2)
    kill -9 "$pid"
    wait_until "[ \"\$(job_status $first)\" = error ]" 2
    run gnt-job info "$first"
    assert_output --partial "died unexpectedly"
    wait_until "[ \"\$(job_status $second)\" = success ]" 10
}

@test "a job with duration 0 ends in error, as in Ganeti" {
    init_cluster
    run gnt-debug delay 0
    assert_failure 1
    assert_output --partial "Duration must be greater than zero"
    run gnt-job list --no-headers -o status,summary
    assert_line --regexp '^error +TEST_DELAY\(0\.0\)$'
}

@test "dependencies: a job waits for another and is canceled with it" {
    init_cluster
    "$PYTHON" - <<'PYEOF'
import sys
sys.path.insert(0, "lib")
from qganeti import luxi
client = luxi.Client()
res = client.SubmitManyJobs([
    [{"OP_ID": "OP_TEST_DELAY", "duration": 1}],
    [{"OP_ID": "OP_TEST_DELAY", "duration": 0.1, "depends": [[-1, ["success"]]]}],
    [{"OP_ID": "OP_TEST_DELAY", "duration": 60}],
    [{"OP_ID": "OP_TEST_DELAY", "duration": 0.1, "depends": [[-1, []]]}],
])
print(res)
PYEOF
    run gnt-job cancel --kill --yes-do-it 4
    wait_until "[ \"\$(job_status 3)\" = success ]" 15
    wait_until "[ \"\$(job_status 5)\" = canceled ]" 15
    run gnt-job info 3
    # job 3 started only after job 2 ended
    end2=$(gnt-job list --no-headers -o end_ts 2 | tr -d ' ')
    start3=$(gnt-job list --no-headers -o start_ts 3 | tr -d ' ')
    [[ "$start3" > "$end2" || "$start3" == "$end2" ]]
}
