#!/usr/bin/env bats
# Replication to master candidates and nodes; gnt-cluster across nodes.

load lib/common
load lib/vcluster

teardown() { vc_down; }

@test "config and job queue reach the candidates, ssconf every node, after each change" {
    vc_cluster 3 --candidate-pool-size=2
    run gnt-node list -o name,role --no-headers
    assert_line --regexp '^node3.example.com +R$'
    run gnt-cluster add-tags replicated
    assert_success
    wait_until '[ "$(config_serial 2)" = "$(config_serial 1)" ]' 20
    [ "$(config_serial 3)" = -1 ]
    wait_until 'grep -qx replicated "$VC/node3/var/lib/qganeti/ssconf_cluster_tags"' 20
    jid=$(gnt-debug delay --submit 0.1 | sed 's/JobID: //')
    wait_until "[ \"\$(job_status $jid)\" = success ]" 20
    wait_until "grep -q '\"status\":\"success\"' '$VC/node2/var/lib/qganeti/queue/job-$jid'" 20
    [ ! -e "$VC/node3/var/lib/qganeti/queue/job-$jid" ]
    run gnt-job archive "$jid"
    wait_until "[ -e '$VC/node2/var/lib/qganeti/queue/archive/0/job-$jid' ]" 20
    [ ! -e "$VC/node2/var/lib/qganeti/queue/job-$jid" ]
}

@test "a node that missed changes is brought up to date by the next push, highest serial wins" {
    vc_cluster 2
    "$VCLUSTER" freeze "$VC" 2
    run gnt-cluster add-tags while-frozen
    assert_success
    "$VCLUSTER" thaw "$VC" 2
    wait_until '[ "$(config_serial 2)" = "$(config_serial 1)" ]' 90
    # an older config sent to a node is ignored
    old=$(cat "$VC/node2/var/lib/qganeti/config.data")
    serial=$(config_serial 2)
    run gnt-cluster add-tags newer
    wait_until '[ "$(config_serial 2)" -gt "$serial" ]' 20
    printf '{"config": %s}' "$("$PYTHON" -c 'import json,sys; print(json.dumps(sys.stdin.read()))' <<< "$old")" |
        as_node 2 "$LIBEXEC/node/files-receive"
    [ "$(config_serial 2)" -gt "$serial" ]
}

@test "redist-conf pushes config and ssconf at once" {
    vc_cluster 2
    rm -f "$VC/node2/var/lib/qganeti/config.data" "$VC/node2/var/lib/qganeti/ssconf_node_list"
    run gnt-cluster redist-conf
    assert_success
    [ "$(config_serial 2)" = "$(config_serial 1)" ]
    run cat "$VC/node2/var/lib/qganeti/ssconf_node_list"
    assert_output $'node1.example.com\nnode2.example.com'
}

@test "gnt-cluster command and copyfile reach every online node" {
    vc_cluster 3
    run gnt-cluster command 'echo "$QGANETI_HOSTNAME"; exit 3'
    assert_success
    assert_line "node: node2.example.com"
    assert_line "node3.example.com"
    [ "${lines[-1]}" = "return code = 3" ]
    [ "$(grep -c '^node: ' <<< "$output")" = 3 ]
    # the master comes last, as in Ganeti
    [ "$(grep '^node: ' <<< "$output" | tail -n 1)" = "node: node1.example.com" ]
    run gnt-cluster command -M -n node2.example.com --failure-only false
    assert_output $'------------------------------------------------\nreturn code = 1'
    gnt-node modify -O yes node3.example.com
    echo "copied content" > "$VC/node1/etc/motd"
    run gnt-cluster copyfile "$VC/node1/etc/motd"
    assert_success
    assert_output --partial "skipping offline node(s): node3.example.com"
    run cat "$VC/node2/etc/motd"
    assert_output "copied content"
    [ ! -e "$VC/node3/etc/motd" ]
    run gnt-cluster copyfile "$VC/node1/etc/nosuch"
    assert_failure
    assert_output --partial "No such filename"
}

@test "verify across nodes: versions, files, an unreachable node, an instance on the wrong node" {
    vc_cluster 3
    run gnt-cluster verify
    assert_success
    refute_output --partial ERROR
    run gnt-instance add -t diskless -o noop -n node2.example.com --no-name-check \
        --no-ip-check web1
    assert_success
    # the instance also runs where it does not belong
    as_node 3 "$LIBEXEC/node/instance-start" fake web1 128 1
    wait_until '[ "$(config_serial 3)" = "$(config_serial 1)" ]' 20   # replication done
    echo "tampered" > "$VC/node3/var/lib/qganeti/ssh/known_hosts"
    "$VCLUSTER" freeze "$VC" 2
    run gnt-cluster verify
    assert_failure
    assert_output --partial "ERROR: node node2.example.com: while contacting node: Node node2.example.com: no SSH answer from 127.0.0.12"
    assert_output --regexp "ERROR: cluster : File /var/lib/qganeti/ssh/known_hosts found with 2 different checksums \(variant 1 on node[13].example.com; variant 2 on node[13].example.com\)"
    assert_output --partial "ERROR: instance web1: instance should not run on node node3.example.com"
    "$VCLUSTER" thaw "$VC" 2
}
