#!/usr/bin/env bats
# gnt-job: listing, details, cancelling (queued, waiting, running, killed), priorities, archive.

load lib/common

teardown() {
    destroy_cluster
}

@test "list, list-fields, filters and unknown fields" {
    init_cluster
    gnt-debug delay 0.01
    run gnt-job list
    assert_success
    assert_line --index 0 --regexp '^ *ID Status +Summary$'
    assert_line --regexp '^ *2 success TEST_DELAY\(1\.0e-2\)$'
    run gnt-job list --no-headers --separator=: -o id,status 2
    assert_output "2:success"
    run gnt-job list --no-headers -o id 'status == "success" and id > 1'
    assert_output --regexp '^ *2$'
    run gnt-job list -o id,nosuchfield
    assert_failure 14
    run gnt-job list-fields summary
    assert_line --regexp '^summary +Custom +Summary +List of per-opcode summaries$'
}

@test "info shows opcodes, their input, result and log" {
    init_cluster
    gnt-debug delay -r 2 0.01
    run gnt-job info 2
    assert_success
    assert_line "- Job ID: 2"
    assert_line "  Status: success"
    assert_line "    - Opcode: OP_TEST_DELAY"
    assert_line "        duration: 0.01"
    assert_line --partial "Content: [1, message, Test delay iteration 0/1]"
    run gnt-job info 999
    assert_output --partial "999 not found"
}

@test "cancel: a queued job at once, a waiting one before it runs, a running one refused" {
    init_cluster
    gnt-cluster modify --max-running-jobs 2
    run gnt-debug delay --submit 30
    running=${output#JobID: }
    wait_until "[ \"\$(job_status $running)\" = running ]"
    run gnt-debug delay --submit 1
    waiting=${output#JobID: }
    wait_until "[ \"\$(job_status $waiting)\" = waiting ]"
    run gnt-debug delay --submit 1
    queued=${output#JobID: }
    [ "$(job_status "$queued")" = queued ]
    run gnt-job cancel "$queued"
    assert_success
    assert_output "Job $queued canceled"
    [ "$(job_status "$queued")" = canceled ]
    run gnt-job cancel "$running"
    assert_failure 1
    assert_output "Job $running is no longer waiting in the queue"
    run gnt-job cancel "$waiting"
    assert_success
    assert_output "Job $waiting will be canceled"
    wait_until "[ \"\$(job_status $waiting)\" = canceled ]"
    run gnt-job cancel --kill "$running"
    assert_failure 1
    assert_output --partial "--yes-do-it"
    run gnt-job cancel --kill --yes-do-it "$running"
    assert_success
    wait_until "[ \"\$(job_status $running)\" = canceled ]" 5
    # the killed job's locks are free again
    run gnt-debug delay 0.01
    assert_success
}

@test "a killed job undoes its work: the lock it held is released, its result says canceled" {
    init_cluster
    run gnt-debug delay --submit 30
    jid=${output#JobID: }
    wait_until "[ \"\$(job_status $jid)\" = running ]"
    run gnt-debug locks --no-headers
    assert_output --partial "$jid"
    gnt-job cancel --kill --yes-do-it "$jid"
    wait_until "[ \"\$(job_status $jid)\" = canceled ]" 5
    run gnt-job list --no-headers -o opresult "$jid"
    assert_output --partial "Job canceled by request"
    run gnt-debug locks --no-headers
    refute_output --partial "$jid"
}

@test "change-priority of a queued job" {
    init_cluster
    gnt-cluster modify --max-running-jobs 1
    run gnt-debug delay --submit 30
    first=${output#JobID: }
    wait_until "[ \"\$(job_status $first)\" = running ]"
    run gnt-debug delay --submit --priority low 0.01
    second=${output#JobID: }
    run gnt-job change-priority --priority high "$second"
    assert_success
    assert_output "Priorities of pending opcodes for job $second have been changed to -10"
    run gnt-job list --no-headers -o priority "$second"
    assert_output --regexp '^ *-10$'
    run gnt-job change-priority --priority high "$first"
    assert_failure 1
    assert_output "Job $first had no pending opcodes"
    [ "$(job_status "$first")" = running ]
    gnt-job cancel --kill --yes-do-it "$first"
}

@test "watch and wait follow a job to its end" {
    init_cluster
    run gnt-debug delay --submit -r 2 0.2
    jid=${output#JobID: }
    run gnt-job watch "$jid"
    assert_success
    assert_line "Output from job $jid follows"
    assert_line --partial "Test delay iteration 1/1"
    run gnt-debug delay --submit 0
    bad=${output#JobID: }
    run gnt-job wait "$bad"
    assert_failure 1
    assert_output --partial "Duration must be greater than zero"
}

@test "archive and autoarchive move finished jobs out of the queue" {
    init_cluster
    gnt-debug delay 0.01
    gnt-debug delay 0.01
    run gnt-job archive 2
    assert_success
    [ -e "$QGANETI_ROOT/var/lib/qganeti/queue/archive/0/job-2" ]
    run gnt-job list --no-headers -o id
    refute_line --regexp '^ *2$'
    run gnt-job list --no-headers --archived -o id,archived 2
    assert_output --regexp '^ *2 Y$'
    run gnt-job autoarchive all
    assert_output "Archived 2 jobs, 0 unchecked left"
    run gnt-job list --no-headers
    assert_output ""
}
