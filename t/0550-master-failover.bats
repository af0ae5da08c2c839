#!/usr/bin/env bats
# gnt-cluster master-failover: the vote, --no-voting, jobs and config survive.

load lib/common
load lib/vcluster

teardown() { vc_down; }

@test "master-failover on a candidate: jobs running on the old master are not lost" {
    vc_cluster 3
    gnt-cluster modify --max-running-jobs 2
    ids=()
    for i in 1 2 3 4 5 6; do
        ids+=("$(gnt-debug delay --submit 2 | sed 's/JobID: //')")
    done
    wait_until "[ \"\$(job_status ${ids[0]})\" = running ]" 20
    on_node 2
    run gnt-cluster master-failover
    assert_success
    run gnt-cluster getmaster
    assert_output node2.example.com
    for jid in "${ids[@]}"; do
        wait_until "[ \"\$(job_status $jid)\" = success ]" 60 ||
            fail "job $jid: $(job_status "$jid")"
    done
    run gnt-node list -o name,role --no-headers
    assert_line --regexp '^node1.example.com +C$'
    assert_line --regexp '^node2.example.com +M$'
    # every node learnt it; the old master's luxid is gone and will not start again
    wait_until '[ "$(cat "$VC/node3/var/lib/qganeti/ssconf_master_node")" = node2.example.com ]' 20
    run as_node 1 gnt-job list
    assert_failure
    assert_output --partial "This is not the master node, please connect to node 'node2.example.com'"
    run as_node 1 "$LIBEXEC/daemon-util" start luxid
    assert_failure
    assert_output --partial "This is not the master node"
    # and the new master works: a job, an instance
    run gnt-instance add -t diskless -o noop -n node3.example.com --no-name-check --no-ip-check web1
    assert_success
    wait_until '[ "$(config_serial 1)" = "$(config_serial 2)" ]' 20
}

@test "the vote: a node cut off from the others cannot take over; --no-voting can" {
    vc_cluster 3
    "$VCLUSTER" freeze "$VC" 1
    "$VCLUSTER" freeze "$VC" 3
    on_node 2
    run gnt-cluster master-failover
    assert_failure
    assert_output --partial "Cluster is inconsistent, most nodes did not respond."
    run gnt-cluster getmaster
    assert_output node1.example.com
    run gnt-cluster master-failover --no-voting --yes-do-it
    assert_success
    assert_output --partial "Could not disable the master role on the old master node1.example.com"
    run gnt-cluster getmaster
    assert_output node2.example.com
    # the old master hears of the new one once it answers again, and stops
    "$VCLUSTER" thaw "$VC" 1
    "$VCLUSTER" thaw "$VC" 3
    run gnt-cluster redist-conf
    assert_success
    wait_until '! as_node 1 "$LIBEXEC/daemon-util" check luxid' 30
}

@test "master-failover refuses where it makes no sense" {
    vc_cluster 2 --candidate-pool-size=1
    run gnt-cluster master-failover
    assert_failure
    assert_output --partial "node1.example.com is already the master"
    on_node 2
    run gnt-cluster master-failover
    assert_failure
    assert_output --partial "This node is not among the nodes marked as master candidates"
}
