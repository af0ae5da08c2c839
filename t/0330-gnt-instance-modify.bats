#!/usr/bin/env bats
# gnt-instance modify, rename, reinstall, grow-disk, recreate-disks and tags.

load lib/common

teardown() {
    destroy_cluster
}

add() {
    gnt-instance add --no-name-check --no-ip-check -o noop "$@" >/dev/null
}

disk_files() {
    ls "$QGANETI_ROOT/srv/qganeti/file-storage/$1" | sort | tr '\n' ' '
}

@test "modify -B, --offline/--online and --os-type; Ganeti's report of what changed" {
    init_cluster
    add -t file -s 1G web1
    run gnt-instance modify -B memory=512,vcpus=2 web1
    assert_success
    assert_line "Modified instance web1"
    assert_line " - be/maxmem -> 512"
    assert_line " - be/minmem -> 512"
    assert_line " - be/vcpus -> 2"
    assert_line "Please don't forget that most parameters take effect only at the next (re)start of the instance initiated by ganeti; restarting from within the instance will not be enough."
    run gnt-instance list --no-headers -o be/memory,be/vcpus,oper_ram web1
    assert_output --regexp '^512M +2 +128M$'     # runs with the old memory until restarted
    run gnt-instance reboot --type=full web1
    run gnt-instance list --no-headers -o oper_ram web1
    assert_output "512M"
    run gnt-instance modify web1
    assert_failure 1
    assert_output --partial "Please give at least one of the parameters."
    run gnt-instance modify -B nosuch=1 web1
    assert_failure 1
    assert_output "Parameter Error: Unknown parameter 'nosuch'"
    run gnt-instance modify -H migration_mode=live web1
    assert_failure 1
    assert_output --partial "The following hypervisor parameters are global and cannot be customized at instance level"
    run gnt-instance modify --offline web1
    assert_failure 1
    assert_output --partial "Instance 'web1' is marked to be up, can't change to offline without being down first"
    gnt-instance shutdown web1 >/dev/null
    run gnt-instance modify --offline web1
    assert_success
    assert_line " - admin_state -> offline"
    run gnt-instance list --no-headers -o status web1
    assert_output "ADMIN_offline"
    run gnt-instance startup web1
    assert_failure 1
    assert_output --partial "Instance 'web1' is marked to be offline"
    run gnt-instance modify --online web1
    assert_success
    assert_line " - admin_state -> down"
    run gnt-instance modify --os-type=nosuchos web1
    assert_failure 1
    assert_output --partial "Directory for OS nosuchos not found in search path"
    run gnt-instance list --no-headers -o os web1
    assert_output "noop"
}

@test "modify --disk add, modify and remove: files created and removed on the node" {
    init_cluster
    add -t file -s 1G web1
    gnt-instance shutdown web1 >/dev/null
    run gnt-instance modify --disk add:size=2G,name=data web1
    assert_success
    assert_line " - disk/1 -> add:size=2048,mode=rw"
    [ "$(ls "$QGANETI_ROOT"/srv/qganeti/file-storage/web1 | wc -l)" -eq 2 ]
    [ "$(stat -c %s "$QGANETI_ROOT"/srv/qganeti/file-storage/web1/*.disk1)" -eq $((2048 * 1048576)) ]
    run gnt-instance modify --disk 0:modify,mode=ro,name=root web1
    assert_success
    assert_line " - disk.mode/0 -> ro"
    assert_line " - disk.name/0 -> root"
    run gnt-instance list --no-headers -o disk.sizes,disk.names web1
    assert_output --regexp "^1024,2048 +\['root', 'data'\]$"
    run gnt-instance modify --disk data:remove web1
    assert_success
    assert_line " - disk/1 -> remove"
    [ "$(ls "$QGANETI_ROOT"/srv/qganeti/file-storage/web1 | wc -l)" -eq 1 ]
    run gnt-instance modify --disk 5:modify,mode=rw web1
    assert_failure 1
    run gnt-instance modify --disk add:size=100T --ignore-ipolicy web1
    assert_failure 1
    assert_output --partial "Not enough disk space"
    [ "$(ls "$QGANETI_ROOT"/srv/qganeti/file-storage/web1 | wc -l)" -eq 1 ]
}

@test "rename moves the disks' directory; reinstall runs the OS again; both need the instance down" {
    init_cluster
    add -t file -s 1G web1
    add -t diskless --no-start other1
    run gnt-instance rename --no-name-check --no-ip-check web1 web2
    assert_failure 1
    assert_output --partial "Instance 'web1' is marked to be up, cannot rename"
    gnt-instance shutdown web1 >/dev/null
    before=$(disk_files web1)
    run gnt-instance rename --no-name-check --no-ip-check web1 other1
    assert_failure 1
    assert_output --partial "Instance 'other1' is already in the cluster"
    run gnt-instance rename --no-name-check --no-ip-check web1 'bad name'
    assert_failure 1
    assert_output --partial "Invalid hostname 'bad name'"
    run gnt-instance rename --no-name-check --no-ip-check web1 web2
    assert_success
    assert_output "Instance 'web1' renamed to 'web2'"
    [ ! -e "$QGANETI_ROOT/srv/qganeti/file-storage/web1" ]
    [ "$(disk_files web2)" = "$before" ]
    run gnt-instance list --no-headers -o name
    assert_output $'other1\nweb2'
    run gnt-instance startup web2
    assert_success
    run gnt-instance reinstall -f web2
    assert_failure 1
    gnt-instance shutdown web2 >/dev/null
    run gnt-instance reinstall -f web2
    assert_success
    assert_output --partial "Running the instance OS create scripts..."
    gnt-instance startup web2 >/dev/null
    run gnt-instance console web2      # the console log moved with the name
    [ "$(echo "$output" | grep -c 'OS create script of noop done')" -eq 2 ]
    gnt-instance shutdown web2 >/dev/null
    run gnt-instance reinstall -f -o nosuchos web2
    assert_failure 1
    run gnt-instance list --no-headers -o os,status web2
    assert_output --regexp '^noop +ADMIN_down$'
}

@test "grow-disk grows the file; recreate-disks makes missing disks again" {
    init_cluster
    add -t file -s 1G web1
    disk=$(ls "$QGANETI_ROOT"/srv/qganeti/file-storage/web1/*.disk0)
    run gnt-instance grow-disk web1 0 1G
    assert_success
    assert_output --regexp " Growing disk 0 of instance 'web1' by 1\.0G to 2\.0G$"
    [ "$(stat -c %s "$disk")" -eq $((2048 * 1048576)) ]
    run gnt-instance grow-disk --absolute web1 0 3G
    assert_success
    [ "$(stat -c %s "$disk")" -eq $((3072 * 1048576)) ]
    run gnt-instance list --no-headers -o disk.sizes web1
    assert_output "3072"
    run gnt-instance grow-disk --absolute web1 0 1G
    assert_failure 1
    assert_output --partial "Requested size (1.0G) is smaller than current disk size (3.0G)"
    run gnt-instance grow-disk web1 0 100T
    assert_failure 1
    assert_output --partial "Not enough disk space on target node node1.example.com file storage"
    run gnt-instance grow-disk web1 0 -1G
    assert_failure 2
    [ "$(stat -c %s "$disk")" -eq $((3072 * 1048576)) ]
    # recreate-disks: for an instance whose disk files were lost
    run gnt-instance recreate-disks web1
    assert_failure 1
    assert_output --partial "cannot recreate disks"
    gnt-instance shutdown web1 >/dev/null
    rm "$disk"
    run gnt-instance startup web1
    assert_failure 1
    run gnt-instance recreate-disks web1
    assert_success
    [ "$(stat -c %s "$disk")" -eq $((3072 * 1048576)) ]
    run gnt-instance startup web1
    assert_success
}

@test "tags: add, list, remove, --from a file, and selection by tag" {
    init_cluster
    add -t diskless --no-start web1
    run gnt-instance add-tags web1 prod web
    assert_success
    printf 'rack:1\nowner@example.com\n' > "$BATS_TEST_TMPDIR/tags"
    run gnt-instance add-tags --from "$BATS_TEST_TMPDIR/tags" web1
    assert_success
    run gnt-instance list-tags web1
    assert_output $'owner@example.com\nprod\nrack:1\nweb'
    run gnt-instance remove-tags web1 web
    assert_success
    run gnt-instance list --no-headers -o tags web1     # sorted, as Ganeti's tag sets
    assert_output "owner@example.com,prod,rack:1"
    run gnt-instance add-tags web1 'bad tag'
    assert_failure 1
    assert_output $'Failure: invalid tag(s) given:\nTag contains invalid characters'
    run gnt-instance add-tags web1 "$(printf 'x%.0s' $(seq 129))"
    assert_failure 1
    assert_output --partial "Tag too long (>128 characters)"
    run gnt-cluster search-tags '^pro'
    assert_output "/instances/web1 prod"
    run gnt-instance add-tags nosuch x
    assert_failure 1
}
