#!/usr/bin/env bats
# htools against a running one-node cluster through LUXI (-L): hbal,
# hroller and hsqueeze read it; harep follows its repair tags and
# submits real jobs; -X needs LUXI.

load lib/common

teardown() {
    destroy_cluster
}

add_instance() {
    gnt-instance add -t diskless -o noop --no-start --no-name-check --no-ip-check "$@"
}

@test "hbal, hroller and hsqueeze read the cluster through LUXI" {
    init_cluster
    add_instance web1
    add_instance web2
    run hbal -L
    assert_success
    assert_line "Loaded 1 nodes, 2 instances"
    assert_line "Selected node group: default"
    # its diskless instances cannot go anywhere else
    run hroller -L
    assert_failure 1
    assert_line "Error: Not enough capacity to move non-redundant instances"
    run hroller -L --ignore-non-redundant
    assert_success
    assert_line "'Node Reboot Groups'"
    assert_line "node1.example.com"
    run hsqueeze -L -v -v
    assert_success
    assert_line "Offline candidates: "
    assert_line "'No action'"
    run hbal -L"$QGANETI_ROOT/nosuch.sock"
    assert_failure 1
    assert_output --partial "Error: failed to load data, aborting:"
}

@test "-X without LUXI is refused as Ganeti refuses it" {
    init_cluster
    data=$BATS_TEST_DIRNAME/data/ganeti/htools
    [ -d "$data" ] || data=/work/shared/reference/ganeti-testdata/htools
    run hbal -t "$data/hbal-evac.data" -X
    assert_failure 1
    assert_line "Error: hbal: Execution of commands possible only on LUXI"
    run hsqueeze -t "$data/hsqueeze-underutilized.data" -X
    assert_failure 1
    assert_line "Error: hsqueeze: Execution of commands possible only on LUXI"
}

@test "harep finishes a pending repair whose jobs succeeded" {
    init_cluster
    add_instance web1
    gnt-debug delay 0.01
    job=$(gnt-job list --no-headers -o id | tail -1)
    gnt-instance add-tags web1 ganeti:watcher:autorepair:failover \
        "ganeti:watcher:autorepair:pending:failover:abc-1:1700000000:$job"
    run harep -L --dry-run
    assert_success
    assert_line 'Moving web1 from "Pending repair" to "Healthy"'
    run gnt-instance list-tags web1
    assert_line "ganeti:watcher:autorepair:pending:failover:abc-1:1700000000:$job"
    run harep -L
    assert_success
    assert_line 'Moving web1 from "Pending repair" to "Healthy"'
    assert_line "Healthy: 1"
    run gnt-instance list-tags web1
    assert_success
    assert_line --regexp "^ganeti:watcher:autorepair:result:failover:abc-1:[0-9]+:success:$job\$"
    refute_line --partial "autorepair:pending:"
    # nothing left to do
    run harep -L
    assert_success
    refute_line --partial "Moving"
    assert_line "Healthy: 1"
}

@test "harep records a failed repair and keeps to it" {
    init_cluster
    add_instance web1
    run gnt-instance add -t diskless -o nosuchos --no-start --no-name-check web2
    job=$(gnt-job list --no-headers -o id,status | awk '$2 == "error" {print $1}' | tail -1)
    [ -n "$job" ]
    gnt-instance add-tags web1 "ganeti:watcher:autorepair:pending:reinstall:abc-2:1700000000:$job"
    run harep -L
    assert_success
    assert_line 'Moving web1 from "Pending repair" to "Failure"'
    assert_line "Failure: 1"
    run gnt-instance list-tags web1
    assert_line --regexp "^ganeti:watcher:autorepair:result:reinstall:abc-2:[0-9]+:failure:$job\$"
}

@test "harep: bad tags and arguments" {
    init_cluster
    add_instance web1
    gnt-instance add-tags web1 ganeti:watcher:autorepair:pending:failover:u1:1700000000:1 \
        ganeti:watcher:autorepair:pending:migrate:u2:1700000001:1
    run harep -L
    assert_failure 1
    assert_output --partial "Error: when parsing auto-repair tags: An unfinished repair was found in instance web1"
    run harep extra
    assert_failure 1
    assert_output "Error: this program doesn't take any arguments."
    run harep --job-delay=soon
    assert_failure 1
    refute_output --partial Traceback
}
