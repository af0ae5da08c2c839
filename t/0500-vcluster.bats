#!/usr/bin/env bats
# t/lib/vcluster: virtual nodes, each with its own sshd, root and name.

load lib/common
load lib/vcluster

teardown() { vc_down; }

ssh_node() {
    local i=$1
    shift
    ssh -q -i "$VC/operator_key" -p "$VCLUSTER_SSH_PORT" -o BatchMode=yes \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        "127.0.0.$((10 + i))" "$@"
}

@test "each node answers at its own address with its own root and name" {
    vc_up 3
    for i in 1 2 3; do
        run ssh_node "$i" 'echo "$QGANETI_ROOT $QGANETI_HOSTNAME"'
        assert_success
        assert_output "$VC/node$i node$i.example.com"
        run cat "$VC/node$i/etc/hosts"
        assert_line "127.0.0.11 node1.example.com node1"
        assert_line "127.0.0.13 node3.example.com node3"
    done
}

@test "a node's sshd takes keys from the node's authorized_keys only" {
    vc_up 2
    ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/stranger"
    SSH_AUTH_SOCK= run ssh -q -i "$BATS_TEST_TMPDIR/stranger" -p "$VCLUSTER_SSH_PORT" \
        -o IdentitiesOnly=yes -o BatchMode=yes \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null 127.0.0.12 true
    assert_failure
}

@test "down leaves no process behind, also with sessions open and a node frozen" {
    vc_up 2
    ssh_node 2 'sleep 600' 3>&- &
    "$VCLUSTER" freeze "$VC" 1
    run vc_processes
    [ -n "$output" ]
    vc_down
    run vc_processes
    assert_output ""
    wait
}

@test "usage errors and a machine without sshd" {
    run "$VCLUSTER"
    [ "$status" -eq 100 ]
    run "$VCLUSTER" up x "$BATS_TEST_TMPDIR/vc"
    [ "$status" -eq 100 ]
    VCLUSTER_SSHD=/nonexistent/sshd run "$VCLUSTER" up 2 "$BATS_TEST_TMPDIR/vc"
    [ "$status" -eq 77 ]
    assert_output --partial "not found"
}
