#!/usr/bin/env bats
# Instances between nodes: migrate (with rollback and --cleanup), failover,
# move with volume-copy, and gnt-node migrate/evacuate/failover.

load lib/common
load lib/vcluster

teardown() { vc_down; }

running_on() {   # the nodes whose fake hypervisor runs instance $1
    local i
    for i in 1 2 3; do
        [ -e "$VC/node$i/var/run/qganeti/fake-hypervisor/$1" ] && echo "node$i"
    done
    return 0
}

@test "migrate runs the protocol's steps and the instance runs only on the target" {
    vc_cluster 2
    add_instance web1 sharedfile node1
    run gnt-instance migrate -f -n node2.example.com web1
    assert_success
    assert_output --partial "* preparing node2.example.com to accept the instance"
    assert_output --partial "* migrating instance to node2.example.com"
    assert_output --partial "* done"
    run gnt-instance list -o name,pnode,status --no-headers web1
    assert_output --regexp '^web1 +node2.example.com +running$'
    run running_on web1
    assert_output node2
    run cat "$VC/node2/var/log/qganeti/fake-console/web1.log"
    assert_output --partial "migrated here from 127.0.0.11"
    [ ! -e "$VC/node1/var/run/qganeti/fake-hypervisor-migration/web1" ]
    [ ! -e "$VC/node2/var/run/qganeti/fake-hypervisor-migration/web1" ]
}

@test "a migration the target refuses is rolled back: the instance runs on, unpaused, on the source" {
    vc_cluster 2
    add_instance web1 sharedfile node1
    # the target already runs an instance of that name: it refuses to accept
    as_node 2 "$LIBEXEC/node/instance-start" fake web1 128 1
    run gnt-instance migrate -f -n node2.example.com web1
    assert_failure
    assert_output --partial "Can't accept instance, already running"
    run gnt-instance list -o name,pnode --no-headers web1
    assert_output --regexp 'node1.example.com$'
    [ ! -e "$VC/node1/var/run/qganeti/fake-hypervisor-paused/web1" ]
    as_node 2 "$LIBEXEC/node/instance-stop" fake web1
    # a transfer that fails on the source (its state cannot be recorded) is
    # undone on both sides, after the target had accepted
    mkdir -p "$VC/node1/var/run/qganeti/fake-hypervisor-migration/web1"
    run gnt-instance migrate -f -n node2.example.com web1
    assert_failure
    assert_output --partial "Migration failed, aborting"
    assert_output --partial "Could not migrate instance web1"
    rmdir "$VC/node1/var/run/qganeti/fake-hypervisor-migration/web1"
    [ ! -e "$VC/node2/var/run/qganeti/fake-hypervisor-migration/web1" ]
    run running_on web1
    assert_output node1
    run gnt-instance list -o name,pnode --no-headers web1
    assert_output --regexp 'node1.example.com$'
}

@test "migrate --cleanup settles a migration cut short after the transfer" {
    vc_cluster 2
    add_instance web1 sharedfile node1
    # the steps of a migration, by hand, up to where the job would record the move
    echo '{"memory": 128, "vcpus": 1}' | as_node 2 "$LIBEXEC/node/instance-accept" fake web1
    echo '{"target": "127.0.0.12"}' | as_node 1 "$LIBEXEC/node/instance-migrate" fake web1
    echo '{"success": true}' | as_node 2 "$LIBEXEC/node/instance-finalize-target" fake web1
    echo '{"success": true}' | as_node 1 "$LIBEXEC/node/instance-finalize-source" fake web1
    run gnt-instance migrate --cleanup -f web1
    assert_success
    assert_output --partial "* instance running on secondary node (node2.example.com), updating config"
    run gnt-instance list -o pnode --no-headers web1
    assert_output node2.example.com
    # nothing half done: the instance confirmed where it is
    run gnt-instance migrate --cleanup -f web1
    assert_success
    assert_output --partial "* instance confirmed to be running on its primary node (node2.example.com)"
}

@test "failover restarts a sharedfile instance on the other node; file disks cannot fail over" {
    vc_cluster 2
    add_instance web1 sharedfile node1
    run gnt-instance failover -f web1 -n node2.example.com
    assert_success
    run running_on web1
    assert_output node2
    add_instance db1 file node1
    run gnt-instance failover -f -n node2.example.com db1
    assert_failure
    assert_output --partial "Instance's disk layout 'file' does not allow failovers"
}

@test "move copies file disks with volume-copy, sparse, and removes them from the source" {
    vc_cluster 2
    add_instance db1 file node1
    disk=$(ls "$VC"/node1/srv/qganeti/file-storage/db1/*)
    dd if=/dev/urandom of="$disk" bs=1M count=8 seek=100 conv=notrunc status=none
    sum=$(sha256sum < "$disk")
    run gnt-instance move -f -n node2.example.com --compress gzip-fast db1
    assert_success
    assert_output --partial "Copying data for disk 0"
    assert_output --partial "volume-copy: progress: 1024 of 1024 MiB (100%)"
    assert_output --regexp "Disk 0 copied: 1024 MiB, 8 MiB of data sent"
    target=${disk/node1/node2}
    [ "$(sha256sum < "$target")" = "$sum" ]
    [ "$(du -m "$target" | cut -f1)" -lt 20 ]        # still sparse
    [ ! -e "$disk" ]
    run gnt-instance list -o name,pnode,status --no-headers db1
    assert_output --regexp '^db1 +node2.example.com +running$'
    run running_on db1
    assert_output node2
}

@test "a move whose copy is cut short resumes: the next attempt sends only what is missing" {
    vc_cluster 2
    add_instance db1 file node1
    disk=$(ls "$VC"/node1/srv/qganeti/file-storage/db1/*)
    dd if=/dev/urandom of="$disk" bs=1M count=160 conv=notrunc status=none
    sum=$(sha256sum < "$disk")
    target=${disk/node1/node2}
    partial="${target%/*}/.${target##*/}.volume-copy.partial"
    # gzip-slow keeps the copy of random data slow enough to cut it midway
    gnt-instance move -f -n node2.example.com --compress gzip-slow db1 \
        > "$BATS_TEST_TMPDIR/move.out" 2>&1 &
    mover=$!
    wait_until "[ -f '$partial' ] && [ \$(du -m '$partial' | cut -f1) -ge 16 ]" 120
    pkill -9 -f -- "volume-copy send --compress gzip-slow"
    wait "$mover"
    run cat "$BATS_TEST_TMPDIR/move.out"
    assert_output --partial "interrupted"
    assert_output --partial "resuming, attempt 2 of 3"
    assert_output --regexp "Disk 0 copied: 1024 MiB, [0-9]+ MiB of data sent in [0-9.]+ s, [1-9][0-9]* MiB kept from interrupted attempts"
    [ "$(sha256sum < "$target")" = "$sum" ]
    [ ! -e "$partial" ]
    [ ! -e "$disk" ]
    run gnt-instance list -o name,pnode,status --no-headers db1
    assert_output --regexp '^db1 +node2.example.com +running$'
}

@test "a move whose every copy attempt fails leaves no partial copy on the target" {
    vc_cluster 2
    add_instance db1 file node1
    disk=$(ls "$VC"/node1/srv/qganeti/file-storage/db1/*)
    dd if=/dev/urandom of="$disk" bs=1M count=64 conv=notrunc status=none
    target=${disk/node1/node2}
    partial="${target%/*}/.${target##*/}.volume-copy.partial"
    # every sender is killed as soon as it runs
    ( while :; do pkill -9 -f -- "volume-copy send --compress gzip-slow" || true; sleep 0.05; done ) &
    killer=$!
    run gnt-instance move -f -n node2.example.com --compress gzip-slow db1
    kill "$killer"
    assert_failure
    assert_output --partial "resuming, attempt 3 of 3"
    assert_output --partial "Errors during disk copy"
    [ ! -e "$partial" ]
    [ ! -e "$target" ]
    [ -e "$disk" ]
    run gnt-instance list -o name,pnode --no-headers db1
    assert_output --regexp '^db1 +node1.example.com$'
}

@test "gnt-node migrate, evacuate and failover: one job per instance" {
    vc_cluster 3
    add_instance a1 sharedfile node1
    add_instance a2 diskless node1
    add_instance a3 file node1 --no-start
    run gnt-node migrate -f -n node2.example.com node1.example.com
    assert_failure       # a3's file disk cannot migrate
    assert_output --partial "There were 1 errors during the node migration."
    run gnt-instance list -o name,pnode --no-headers
    assert_line --regexp '^a1 +node2.example.com$'
    assert_line --regexp '^a2 +node2.example.com$'
    run gnt-node evacuate -f -n node3.example.com node1.example.com
    assert_success
    assert_output --partial "All instances evacuated successfully."
    run gnt-node failover -f -n node3.example.com node2.example.com
    assert_success
    assert_output --partial "All 2 instance(s) failed over successfully."
    run gnt-instance list -o name,pnode,status --no-headers
    assert_line --regexp '^a1 +node3.example.com +running$'
    assert_line --regexp '^a3 +node3.example.com +ADMIN_down$'
    # without -n the iallocator plans; like Ganeti's hail it cannot move file disks
    run gnt-node evacuate -f node3.example.com
    assert_failure
    assert_output --partial "Unable to evacuate instances a3 (Instances of type file cannot be relocated)"
    run gnt-node migrate -f node1.example.com
    assert_output "No primary instances on node node1.example.com, exiting."
}
