#!/usr/bin/env bats
# gnt-instance startup/shutdown/reboot/remove/console/activate-disks/
# deactivate-disks, and the selections of the multi-instance commands.

load lib/common

teardown() {
    destroy_cluster
}

add() {
    gnt-instance add --no-name-check --no-ip-check -o noop "$@" >/dev/null
}

states() {
    gnt-instance list --no-headers -o name,status,admin_state,oper_state | tr -s ' ' | tr '\n' ';'
}

@test "startup, shutdown and reboot change what runs and what is wanted; the console shows it" {
    init_cluster
    add -t file -s 1G web1
    run gnt-instance shutdown --timeout=5 web1
    assert_success
    assert_output --regexp '^Waiting for job [0-9]+ for web1 \.\.\.$'
    [ "$(states)" = "web1 ADMIN_down down N;" ]
    # the fake hypervisor keeps its running state in files under the run dir
    [ ! -e "$QGANETI_ROOT/var/run/qganeti/fake-hypervisor/web1" ]
    run gnt-instance startup web1
    assert_success
    [ "$(states)" = "web1 running up Y;" ]
    [ -e "$QGANETI_ROOT/var/run/qganeti/fake-hypervisor/web1" ]
    for kind in soft hard full; do
        run gnt-instance reboot --type=$kind web1
        assert_success
    done
    [ "$(states)" = "web1 running up Y;" ]
    run gnt-instance console web1
    assert_success
    assert_line --index 0 --regexp 'OS create script of noop done'
    assert_line --regexp ' fake: instance web1 stopped$'
    assert_line --regexp ' fake: instance web1 rebooted$'
    [ "$(echo "$output" | grep -c 'fake: instance web1 started')" -ge 3 ]
    run gnt-instance reboot --type=bogus web1
    assert_failure 2
    assert_output --partial "invalid choice: 'bogus'"
    # a stopped instance rebooted is started, as Ganeti does
    gnt-instance shutdown web1 >/dev/null
    run gnt-instance reboot web1
    assert_success
    assert_output --partial "Instance web1 was already stopped, starting now"
    [ "$(states)" = "web1 running up Y;" ]
}

@test "selections: one job per instance; --all, --node, --primary, --secondary, --tags, --node-tags" {
    init_cluster
    add -t diskless --no-start --tags web a1
    add -t diskless --no-start --tags web a2
    add -t diskless --no-start --tags db b1
    run gnt-instance startup --tags web --force-multiple
    assert_success
    assert_line --regexp '^Submitted jobs [0-9]+, [0-9]+$'
    assert_line --regexp '^Waiting for job [0-9]+ for a1 \.\.\.$'
    assert_line --regexp '^Waiting for job [0-9]+ for a2 \.\.\.$'
    [ "$(states)" = "a1 running up Y;a2 running up Y;b1 ADMIN_down down N;" ]
    run gnt-instance startup --all --force-multiple --submit
    assert_success
    assert_line --regexp '^[0-9]+: b1$'
    wait_until "[ \"\$(states)\" = 'a1 running up Y;a2 running up Y;b1 running up Y;' ]" 30
    run gnt-instance shutdown --primary node1.example.com --force-multiple
    assert_success
    [ "$(states)" = "a1 ADMIN_down down N;a2 ADMIN_down down N;b1 ADMIN_down down N;" ]
    run gnt-instance startup --secondary node1.example.com --force-multiple
    assert_failure 1
    assert_output --partial "Selection filter does not match any instances"
    gnt-node add-tags node1.example.com rack1
    run gnt-instance startup --node-tags rack1 --force-multiple
    assert_success
    run gnt-instance shutdown --node node1.example.com --force-multiple
    assert_success
    [ "$(states)" = "a1 ADMIN_down down N;a2 ADMIN_down down N;b1 ADMIN_down down N;" ]
    run gnt-instance startup --node nosuchnode --force-multiple
    assert_failure 1
    assert_output --partial "Node name nosuchnode not found"
    # several instances without --force-multiple and without a terminal: nothing
    run gnt-instance startup --all
    assert_failure 1
    [ "$(states)" = "a1 ADMIN_down down N;a2 ADMIN_down down N;b1 ADMIN_down down N;" ]
    # names: several at once, unknown ones refused before any job
    run gnt-instance startup --force-multiple a1 b1
    assert_success
    [ "$(states)" = "a1 running up Y;a2 ADMIN_down down N;b1 running up Y;" ]
    run gnt-instance shutdown a2 nosuch
    assert_failure 1
    assert_output --partial "Instance name nosuch not found"
    [ "$(states)" = "a1 running up Y;a2 ADMIN_down down N;b1 running up Y;" ]
}

@test "remove: a running instance is stopped, its disks, directory and console go" {
    init_cluster
    add -t file --disk 0:size=1G --disk 1:size=1G web1
    add -t file -s 1G keep1
    run gnt-instance remove web1
    assert_failure 1          # no -f and no terminal to confirm: nothing happens
    [ -d "$QGANETI_ROOT/srv/qganeti/file-storage/web1" ]
    run gnt-instance remove -f web1
    assert_success
    assert_output --regexp ' Shutting down instance web1 on node node1\.example\.com$'
    [ ! -e "$QGANETI_ROOT/srv/qganeti/file-storage/web1" ]
    [ ! -e "$QGANETI_ROOT/var/run/qganeti/fake-hypervisor/web1" ]
    run gnt-instance list --no-headers -o name
    assert_output "keep1"
    run gnt-instance remove -f web1
    assert_failure 1
    assert_output --partial "Instance 'web1' not known"
    run gnt-instance console web1
    assert_failure 1
    # a disk that cannot be removed keeps the instance, unless --ignore-failures
    disk=$(ls "$QGANETI_ROOT"/srv/qganeti/file-storage/keep1/*.disk0)
    rm "$disk" && mkdir "$disk" && touch "$disk/x"
    run gnt-instance remove -f keep1
    assert_failure 1
    assert_output --partial "WARNING: Could not remove disk 0 on node node1.example.com, continuing anyway"
    assert_output --partial "Can't remove instance's disks"
    run gnt-instance list --no-headers -o name,status
    assert_output --regexp '^keep1 +ERROR_down$'   # as Ganeti: stopped, still wanted up
    run gnt-instance remove -f --ignore-failures keep1
    assert_success
    run gnt-instance list --no-headers -o name
    assert_output ""
}

@test "activate-disks prints the disks; deactivate-disks needs the instance down or -f" {
    init_cluster
    add -t file --disk 0:size=1G --disk 1:size=1G web1
    run gnt-instance activate-disks web1
    assert_success
    assert_line --index 0 --regexp "^node1\.example\.com:disk/0:$QGANETI_ROOT/srv/qganeti/file-storage/web1/[0-9a-f-]+\.file\.disk0$"
    assert_line --index 1 --regexp "^node1\.example\.com:disk/1:$QGANETI_ROOT/srv/qganeti/file-storage/web1/[0-9a-f-]+\.file\.disk1$"
    run gnt-instance deactivate-disks web1
    assert_failure 1
    assert_output --partial "Instance 'web1' is marked to be up, cannot shutdown disks"
    run gnt-instance deactivate-disks -f web1
    assert_success
    assert_output --partial "WARNING: Instance web1 is running, deactivating its disks anyway"
    run gnt-instance list --no-headers -o disks_active web1
    assert_output "N"
    gnt-instance shutdown web1 >/dev/null
    run gnt-instance activate-disks web1
    assert_success
    run gnt-instance list --no-headers -o disks_active web1
    assert_output "Y"
    run gnt-instance deactivate-disks web1
    assert_success
    run gnt-instance list --no-headers -o disks_active web1
    assert_output "N"
}
