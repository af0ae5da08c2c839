#!/usr/bin/env bats
# gnt-cluster verify, the per-group part (OP_CLUSTER_VERIFY_GROUP).

load lib/common

teardown() {
    destroy_cluster
}

@test "a healthy one-node cluster verifies with Ganeti's sections" {
    init_cluster
    run gnt-cluster verify
    assert_success
    assert_line --regexp "^.* \* Verifying group 'default'$"
    for section in "Gathering data (1 nodes)" "Gathering information about nodes (1 nodes)" \
            "Gathering disk information (1 nodes)" "Verifying configuration file consistency" \
            "Verifying node status" "Verifying instance status" "Verifying orphan volumes" \
            "Verifying N+1 Memory redundancy" "Other Notes" "Hooks Results"; do
        assert_line --partial "* $section"
    done
    refute_output --partial " - ERROR"
    run gnt-cluster verify --no-nplus1-mem
    assert_success
    refute_output --partial "N+1"
}

@test "orphan disk files, an unusable storage directory and failing hooks are reported" {
    init_cluster
    mkdir -p "$QGANETI_ROOT/srv/qganeti/file-storage/gone.example.com"
    touch "$QGANETI_ROOT/srv/qganeti/file-storage/gone.example.com/0000.file.disk0"
    rmdir "$QGANETI_ROOT/shared"
    hooks=$QGANETI_ROOT/etc/qganeti/hooks/cluster-verify-post.d
    mkdir -p "$hooks"
    printf '#!/bin/sh\necho disk check failed\nexit 1\n' > "$hooks/50-site-check"
    chmod +x "$hooks/50-site-check"
    run gnt-cluster verify
    assert_failure 1
    assert_line --regexp "^.*   - WARNING: node node1\.example\.com: volume /srv/qganeti/file-storage/gone\.example\.com/0000\.file\.disk0 is unknown$"
    assert_line --regexp "^.*   - ERROR: node node1\.example\.com: The configured sharedfile storage path is unusable: Path '.*/shared' is not existing or not a directory\.$"
    assert_line --regexp "^.*   - ERROR: node node1\.example\.com: Script 50-site-check failed, output:$"
    assert_line --regexp "^.*       disk check failed$"
    run gnt-cluster verify --error-codes -I ENODEHOOKS -I ENODESHAREDFILESTORAGEPATHUNUSABLE
    assert_line --regexp "^.*   - WARNING:ENODEHOOKS:node:node1\.example\.com:Script 50-site-check failed, output:$"
    assert_line --regexp "^.*   - WARNING:ENODEORPHANLV:node:node1\.example\.com:volume /srv/qganeti/file-storage/gone\.example\.com/0000\.file\.disk0 is unknown$"
}

@test "verify-group runs by hand and for an empty group only says so" {
    init_cluster
    gnt-group add g1
    run "$LIBEXEC/op/cluster-verify-group" --group-name g1
    assert_success
    assert_output --regexp "\* Verifying group 'g1'"
    assert_output --regexp "\* Empty node group, skipping verification"
    assert_output --partial "true"
    run "$LIBEXEC/op/cluster-verify-group" --group-name nope
    assert_failure 1
    assert_output --partial "Node group 'nope' not found"
}
