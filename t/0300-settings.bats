#!/usr/bin/env bats
# qganeti.yaml: the tree's defaults (etc/qganeti.yaml), overridden per node
# by $QGANETI_ROOT/etc/qganeti/qganeti.yaml; read by luxid, daemon-util and
# gnt-cluster init.

load lib/common

teardown() {
    destroy_cluster
}

settings() {
    mkdir -p "$QGANETI_ROOT/etc/qganeti"
    printf "$@" > "$QGANETI_ROOT/etc/qganeti/qganeti.yaml"
}

@test "the tree ships every setting with its default, as valid YAML" {
    run "$PYTHON" -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); print(sorted(d), d["luxid"]["kill_timeout"], d["daemon-util"]["stop_timeout"])' "$REPO/etc/qganeti.yaml"
    assert_success
    assert_output "['cluster-init', 'daemon-util', 'luxid'] 30 10"
}

@test "init takes the default storage directories from the node's settings" {
    new_root
    settings 'cluster-init:\n  file_storage_dir: /srv/elsewhere\n'
    init_cluster
    run gnt-cluster info
    assert_line "  file storage path: /srv/elsewhere"
    assert_line "  shared file storage path: $QGANETI_ROOT/shared"
    [ -d "$QGANETI_ROOT/srv/elsewhere" ]
}

@test "luxid applies the node's queue size limit" {
    new_root
    settings 'luxid:\n  queue_size_hard_limit: 3\n'
    init_cluster
    run gnt-debug delay --submit 60
    assert_success
    run gnt-debug delay --submit 60
    assert_success
    run gnt-debug delay --submit 60
    assert_failure 1
    assert_output "Failure: the job queue is full and doesn't accept new job submissions until old jobs are archived"
}

@test "bad settings: one clear line, nothing created, and luxid does not start" {
    new_root
    settings 'luxid:\n  kill_timeout: soon\n'
    run gnt-cluster init --enabled-hypervisors=fake cluster.example.com
    assert_failure 1
    assert_output --partial "qganeti.yaml: luxid.kill_timeout must be a non-negative number, not 'soon'"
    refute_output --partial Traceback
    [ ! -e "$QGANETI_ROOT/var/lib/qganeti/config.data" ]
    settings 'luxid:\n  no_such_setting: 1\n'
    run gnt-cluster init --enabled-hypervisors=fake cluster.example.com
    assert_failure 1
    assert_output --partial "unknown setting 'luxid.no_such_setting'"
    settings 'luxid: [\n'
    run gnt-cluster init --enabled-hypervisors=fake cluster.example.com
    assert_failure 1
    assert_output --partial "Cannot parse settings file $QGANETI_ROOT/etc/qganeti/qganeti.yaml (line 2)"
    # a cluster whose settings break later: luxid refuses to start, and says why
    rm "$QGANETI_ROOT/etc/qganeti/qganeti.yaml"
    init_cluster
    run "$LIBEXEC/daemon-util" stop luxid
    assert_success
    settings 'luxid:\n  live_data_ttl: -1\n'
    run "$LIBEXEC/daemon-util" start luxid
    assert_failure 111
    assert_output --partial "luxid: fatal: unable to start: Settings file $QGANETI_ROOT/etc/qganeti/qganeti.yaml: luxid.live_data_ttl must be a non-negative number, not -1"
    run "$LIBEXEC/daemon-util" check luxid
    assert_failure 1
    # stopping does not depend on the settings
    rm "$QGANETI_ROOT/etc/qganeti/qganeti.yaml"
    run "$LIBEXEC/daemon-util" start luxid
    assert_success
    settings 'daemon-util: 7\n'
    run "$LIBEXEC/daemon-util" stop luxid
    assert_success
    assert_output --partial "daemon-util: warning: Settings file"
    run "$LIBEXEC/daemon-util" check luxid
    assert_failure 1
}
