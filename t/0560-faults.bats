#!/usr/bin/env bats
# Faults on a virtual cluster: a node stops answering, luxid dies mid-move.

load lib/common
load lib/vcluster

teardown() { vc_down; }

@test "a node that stops answering mid-operation: the job fails after its timeout, the config stays whole" {
    vc_cluster 3
    run gnt-instance add -t sharedfile -s 1G -o noop -n node1.example.com --no-name-check \
        --no-ip-check web1
    assert_success
    before=$(config_serial 1)
    jid=$(gnt-debug delay --submit --no-master -n node2.example.com -n node3.example.com 3 |
          sed 's/JobID: //')
    wait_until "[ \"\$(job_status $jid)\" = running ]" 20
    sleep 1
    "$VCLUSTER" freeze "$VC" 2
    wait_until "[ \"\$(job_status $jid)\" = error ]" 60
    run gnt-job info "$jid"
    assert_output --partial "Failure during rpc call to node node2.example.com"
    assert_output --partial "timed out after 8"
    # the config is whole and unchanged by the failure; queries do not hang
    "$PYTHON" -c 'import json,sys; json.load(open(sys.argv[1]))' \
        "$VC/node1/var/lib/qganeti/config.data"
    [ "$(config_serial 1)" = "$before" ]
    SECONDS=0
    run gnt-node list -o name,mfree --no-headers
    assert_line --regexp '^node2.example.com +\?$'     # Ganeti's "no data"
    [ "$SECONDS" -lt 15 ]
    run gnt-instance list -o name,status --no-headers
    assert_output --regexp '^web1 +running$'
    run gnt-cluster verify
    assert_failure
    assert_output --partial "ERROR: node node2.example.com: while contacting node"
    # operations that do not need the node go on
    run gnt-instance migrate -f -n node3.example.com web1
    assert_success
    "$VCLUSTER" thaw "$VC" 2
}

@test "kill -9 of the master's luxid during a move: the move finishes, a new luxid shows it" {
    vc_cluster 2
    run gnt-instance add -t file -s 2G -o noop -n node1.example.com --no-name-check \
        --no-ip-check db1
    assert_success
    disk=$(ls "$VC"/node1/srv/qganeti/file-storage/db1/*)
    dd if=/dev/urandom of="$disk" bs=1M count=300 conv=notrunc status=none
    jid=$(gnt-instance move -f --submit -n node2.example.com db1 | sed 's/JobID: //')
    wait_until "[ \"\$(job_status $jid)\" = running ]" 30
    kill -9 "$(cat "$VC/node1/var/run/qganeti/luxid.pid")"
    # the job's process carries on alone
    wait_until "grep -q '\"status\":\"success\"' '$VC/node1/var/lib/qganeti/queue/job-$jid'" 120
    run "$LIBEXEC/daemon-util" start luxid
    assert_success
    run job_status "$jid"
    assert_output success
    run gnt-instance list -o name,pnode,status --no-headers db1
    assert_output --regexp '^db1 +node2.example.com +running$'
    [ ! -e "$disk" ]
}
