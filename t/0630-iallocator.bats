#!/usr/bin/env bats
# gnt-instance add without a node: the iallocator (hail) places the instance.

load lib/common

setup() {
    init_cluster
}

teardown() {
    destroy_cluster
}

@test "an instance added without a node lands on the only node, and the log says so" {
    run gnt-instance add -t diskless -o noop --no-name-check --no-ip-check --no-start \
        inst1.example.com
    assert_success
    assert_output --partial "Selected nodes for instance inst1.example.com via iallocator hail: node1.example.com"
    run gnt-instance list --no-headers -o name,pnode
    assert_output --regexp '^inst1\.example\.com +node1\.example\.com$'
}

@test "-I names the allocator; an unknown one fails with Ganeti's error and creates nothing" {
    run gnt-instance add -I hail -t diskless -o noop --no-name-check --no-ip-check --no-start \
        inst2.example.com
    assert_success
    assert_output --partial "via iallocator hail: node1.example.com"
    run gnt-instance add -I nosuch -t diskless -o noop --no-name-check --no-ip-check \
        --no-start inst3.example.com
    assert_failure
    assert_output --partial "iallocator module 'nosuch' not found in the search path"
    run gnt-instance list --no-headers -o name
    refute_output --partial inst3
}
