#!/usr/bin/env bats
# Snapshots (beyond Ganeti): gnt-instance snapshot, list-snapshots, rollback,
# remove-snapshot; the snapshots field and info's Snapshots section.

load lib/common

teardown() {
    destroy_cluster
}

add() {
    gnt-instance add --no-name-check --no-ip-check -o noop "$@" >/dev/null
}

# write TEXT at 1 MiB into disk file FILE (as a guest would)
put() {
    printf '%s' "$2" | dd of="$1" bs=1M seek=1 conv=notrunc status=none
}

get() {
    dd if="$1" bs=1M skip=1 count=1 status=none | tr -d '\0'
}

@test "an offline snapshot keeps the data; rollback puts it and the disk sizes back" {
    init_cluster
    add -t file --disk 0:size=1G --disk 1:size=1G --no-start web1
    dir=$QGANETI_ROOT/srv/qganeti/file-storage/web1
    disk0=$(ls "$dir"/*.disk0)
    put "$disk0" "before upgrade"
    run gnt-instance snapshot web1 before-upgrade
    assert_success
    assert_line --regexp " Snapshot 'before-upgrade' of instance web1 taken offline \((copy|reflink)\)$"
    [ "$(get "$dir/snapshots/before-upgrade/$(basename "$disk0")")" = "before upgrade" ]
    # space-efficient: a reflink, or a sparse copy of the data only
    [ "$(stat -c %b "$dir/snapshots/before-upgrade/$(basename "$disk0")")" -lt 20000 ]
    [ "$(ls "$dir/snapshots/before-upgrade" | wc -l)" -eq 2 ]
    put "$disk0" "after upgrade!"
    gnt-instance grow-disk web1 1 1G >/dev/null
    run gnt-instance rollback -f web1 before-upgrade
    assert_success
    assert_line --regexp " \* rolling disk/0 back to snapshot 'before-upgrade'$"
    [ "$(get "$disk0")" = "before upgrade" ]
    run gnt-instance list --no-headers -o disk.sizes,snapshots web1
    assert_output --regexp '^1024,1024 +before-upgrade$'
    [ "$(stat -c %s "$(ls "$dir"/*.disk1)")" -eq $((1024 * 1048576)) ]
    # the snapshot is still there for another rollback
    run gnt-instance list-snapshots web1
    assert_output "before-upgrade"
}

@test "an online snapshot pauses the running instance while its disks are copied" {
    init_cluster
    add -t sharedfile -s 1G web1
    disk=$(ls "$QGANETI_ROOT"/shared/web1/*.disk0)
    put "$disk" "live data"
    run gnt-instance snapshot web1 live1
    assert_success
    assert_line --index 0 --regexp ' \* pausing instance web1$'
    assert_line --index 1 --regexp ' \* snapshotting disk/0$'
    assert_line --index 2 --regexp ' \* resuming instance web1$'
    assert_line --index 3 --regexp " Snapshot 'live1' of instance web1 taken online, paused \((copy|reflink)\)$"
    [ "$(get "$QGANETI_ROOT/shared/web1/snapshots/live1/$(basename "$disk")")" = "live data" ]
    run gnt-instance console web1
    assert_line --index 2 --regexp ' fake: instance web1 paused$'
    assert_line --index 3 --regexp ' fake: instance web1 resumed$'
    run gnt-instance list --no-headers -o status web1
    assert_output "running"
    run gnt-instance info web1
    assert_line "  Snapshots: "
    assert_line --regexp '^    - live1: taken [0-9-]+ [0-9:]+, online \(paused\)$'
    assert_line "      disk sizes: 1.0G"
    # rollback needs the instance stopped
    run gnt-instance rollback -f web1 live1
    assert_failure 1
    assert_output --partial "Instance 'web1' is marked to be up, cannot roll back its disks"
}

@test "a failed snapshot leaves no partial copy and the instance running" {
    init_cluster
    add -t file --disk 0:size=1G --disk 1:size=1G web1
    dir=$QGANETI_ROOT/srv/qganeti/file-storage/web1
    disk1=$(ls "$dir"/*.disk1)
    # something already sits where disk/1's copy would go
    mkdir -p "$dir/snapshots/broken"
    touch "$dir/snapshots/broken/$(basename "$disk1")"
    run gnt-instance snapshot web1 broken
    assert_failure 1
    assert_output --partial "Could not snapshot disk/1 of instance web1"
    run ls "$dir/snapshots/broken"
    assert_output "$(basename "$disk1")"        # disk/0's copy was taken back
    run gnt-instance list --no-headers -o status,snapshots web1
    assert_output "running "
    run gnt-instance console web1
    assert_line --index 3 --regexp ' fake: instance web1 resumed$'
}

@test "names, duplicates, missing snapshots; remove-snapshot and instance removal clean up" {
    init_cluster
    add -t file -s 1G --no-start web1
    add -t diskless --no-start nodisk1
    dir=$QGANETI_ROOT/srv/qganeti/file-storage/web1
    gnt-instance snapshot web1 s1 >/dev/null
    gnt-instance snapshot web1 s2 >/dev/null
    run gnt-instance snapshot web1 s1
    assert_failure 1
    assert_output --partial "Snapshot 's1' of instance 'web1' already exists"
    for name in "bad name" "../x" ".hidden" "$(printf 'x%.0s' $(seq 65))"; do
        run gnt-instance snapshot web1 "$name"
        assert_failure 1
        assert_output --partial "Invalid snapshot name '"
    done
    run gnt-instance snapshot nodisk1 s1
    assert_failure 1
    run gnt-instance rollback -f web1 nosuch
    assert_failure 1
    assert_output --partial "Snapshot 'nosuch' of instance 'web1' not known"
    run gnt-instance list --no-headers -o snapshots web1
    assert_output "s1,s2"
    run gnt-instance remove-snapshot web1 s1
    assert_success
    [ ! -e "$dir/snapshots/s1" ]
    run gnt-instance list-snapshots web1
    assert_output "s2"
    run gnt-instance remove-snapshot web1 s1
    assert_failure 1
    # a disk added after a snapshot: rollback refused
    gnt-instance modify --disk add:size=1G web1 >/dev/null
    run gnt-instance rollback -f web1 s2
    assert_failure 1
    run gnt-instance remove -f web1
    assert_success
    [ ! -e "$dir" ]
}
