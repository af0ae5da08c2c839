#!/usr/bin/env bats
# gnt-cluster: a cluster in a directory, its daemon, its settings.

load lib/common

teardown() {
    destroy_cluster
}

@test "init as documented leaves luxid serving on its socket" {
    new_root
    run gnt-cluster init --enabled-hypervisors=fake --enabled-disk-templates=diskless,file cluster.example.com
    assert_success
    sock=$QGANETI_ROOT/var/run/qganeti/socket/ganeti-query
    [ -S "$sock" ]
    [ "$(stat -c %a "$sock")" = 660 ]
    run "$LIBEXEC/daemon-util" check luxid
    assert_success
    run gnt-job list --no-headers
    assert_output --regexp '^ *1 success CLUSTER_POST_INIT$'
}

@test "info shows the cluster as Ganeti's layout does" {
    init_cluster
    run gnt-cluster info
    assert_success
    assert_line "Cluster name: cluster.example.com"
    assert_line "Master node: node1.example.com"
    assert_line "Enabled hypervisors: fake"
    assert_line "  enabled disk templates: diskless, file, sharedfile"
    assert_line "  file storage path: /srv/qganeti/file-storage"
    assert_line "  maximal number of jobs running simultaneously: 20"
    run gnt-cluster getmaster
    assert_output "node1.example.com"
    run gnt-cluster version
    assert_line "Software version: 3.0.2"
}

@test "a second init is refused and changes nothing" {
    init_cluster
    before=$(cat "$QGANETI_ROOT/var/lib/qganeti/config.data")
    run gnt-cluster init --enabled-hypervisors=fake other.example.com
    assert_failure 1
    assert_output --partial "Cluster is already initialised"
    [ "$(cat "$QGANETI_ROOT/var/lib/qganeti/config.data")" = "$before" ]
}

@test "init refuses a bad cluster name and unknown hypervisors" {
    new_root
    run gnt-cluster init --enabled-hypervisors=fake 'bad name;x'
    assert_failure
    assert_output --partial "Invalid cluster name"
    run gnt-cluster init --enabled-hypervisors=nonsense cluster.example.com
    assert_failure
    assert_output --partial "invalid entries: nonsense"
    [ ! -e "$QGANETI_ROOT/var/lib/qganeti/config.data" ]
}

@test "daemon-util restarts luxid and the queue survives" {
    init_cluster
    run gnt-debug delay 0.01
    assert_success
    run "$LIBEXEC/daemon-util" stop luxid
    assert_success
    run "$LIBEXEC/daemon-util" check luxid
    assert_failure 1
    run gnt-job list
    assert_failure
    run "$LIBEXEC/daemon-util" start luxid
    assert_success
    run gnt-job list --no-headers -o id,status
    assert_line --regexp '^ *2 success$'
}

@test "destroy needs --yes-do-it, then stops luxid and removes the state" {
    init_cluster
    run gnt-cluster destroy
    assert_failure 1
    assert_output --partial "supply the --yes-do-it option"
    pid=$(cat "$QGANETI_ROOT/var/run/qganeti/luxid.pid")
    run gnt-cluster destroy --yes-do-it
    assert_success
    [ ! -e "$QGANETI_ROOT/var/lib/qganeti/config.data" ]
    [ ! -e "$QGANETI_ROOT/var/run/qganeti/socket/ganeti-query" ]
    ! kill -0 "$pid" 2>/dev/null
}

@test "modify changes parameters and refuses bad ones" {
    init_cluster
    run gnt-cluster modify --max-running-jobs 7 -B vcpus=2 -H fake:migration_mode=non-live
    assert_success
    run gnt-cluster info
    assert_line "  maximal number of jobs running simultaneously: 7"
    assert_line "    vcpus: 2"
    assert_line "    migration_mode: non-live"
    run gnt-cluster modify -B nosuchparam=1
    assert_failure 1
    assert_output --partial "Unknown parameter 'nosuchparam'"
    run gnt-cluster modify
    assert_failure 1
    assert_output --partial "Please give at least one of the parameters."
}

@test "tags: add, list, search, remove" {
    init_cluster
    run gnt-cluster add-tags web prod
    assert_success
    run gnt-cluster list-tags
    assert_output $'prod\nweb'
    run gnt-cluster search-tags ^w
    assert_output "/cluster web"
    run gnt-cluster remove-tags nosuchtag
    assert_failure 1
    assert_output --partial "Tag(s) 'nosuchtag' not found"
    run gnt-cluster add-tags 'bad tag'
    assert_failure 1
    assert_output --partial "Tag contains invalid characters"
    run gnt-cluster remove-tags web
    assert_success
    run gnt-cluster list-tags
    assert_output "prod"
}

@test "queue drain refuses new jobs until undrained" {
    init_cluster
    run gnt-cluster queue drain
    assert_success
    run gnt-cluster queue info
    assert_output "The drain flag is set"
    run gnt-debug delay 0.01
    assert_failure 1
    assert_output --partial "the job queue is marked for drain"
    run gnt-cluster queue undrain
    run gnt-debug delay 0.01
    assert_success
}

@test "watcher pause and continue" {
    init_cluster
    run gnt-cluster watcher pause 1h
    assert_output --partial "The watcher is paused until"
    run gnt-cluster watcher info
    assert_output --partial "The watcher is paused until"
    run gnt-cluster watcher continue
    assert_output "The watcher is no longer paused."
    run gnt-cluster watcher info
    assert_output "The watcher is not paused."
}

@test "verify checks the config and reports success" {
    init_cluster
    run gnt-cluster verify
    assert_success
    assert_line --partial "* Verifying cluster config"
    assert_line --regexp '^Submitted jobs [0-9]'
}

@test "a failing pre hook aborts the operation; post hooks get GANETI_ variables" {
    init_cluster
    hooks=$QGANETI_ROOT/etc/qganeti/hooks
    mkdir -p "$hooks/cluster-modify-pre.d" "$hooks/cluster-modify-post.d"
    printf '#!/bin/sh\necho vetoed by policy\nexit 1\n' > "$hooks/cluster-modify-pre.d/10-veto"
    chmod +x "$hooks/cluster-modify-pre.d/10-veto"
    run gnt-cluster modify --max-running-jobs 9
    assert_failure 1
    assert_output --partial "vetoed by policy"
    run gnt-cluster info
    assert_line "  maximal number of jobs running simultaneously: 20"
    rm "$hooks/cluster-modify-pre.d/10-veto"
    printf '#!/bin/sh\nenv | grep ^GANETI_ | sort > "%s/post-env"\n' "$BATS_TEST_TMPDIR" \
        > "$hooks/cluster-modify-post.d/20-record"
    chmod +x "$hooks/cluster-modify-post.d/20-record"
    run gnt-cluster modify --max-running-jobs 9
    assert_success
    grep -q '^GANETI_HOOKS_PHASE=post$' "$BATS_TEST_TMPDIR/post-env"
    grep -q '^GANETI_OP_CODE=OP_CLUSTER_SET_PARAMS$' "$BATS_TEST_TMPDIR/post-env"
    grep -q '^GANETI_CLUSTER=cluster.example.com$' "$BATS_TEST_TMPDIR/post-env"
    ! grep -q '^PATH=' "$BATS_TEST_TMPDIR/post-env"
}

@test "commands without a cluster say so" {
    new_root
    run gnt-job list
    assert_failure 1
    assert_output --partial "Cluster not initialized or this machine is not part of a cluster"
}
