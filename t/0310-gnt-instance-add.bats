#!/usr/bin/env bats
# gnt-instance add: instances with file, sharedfile and no disks, their
# options, and everything that must be refused without leaving anything behind.

load lib/common

teardown() {
    destroy_cluster
}

add() {
    gnt-instance add --no-name-check --no-ip-check -o noop "$@"
}

# what a refused add must not leave: a config entry, a disk directory, a lock
assert_nothing_left() {
    run gnt-instance list --no-headers -o name
    assert_output "${1:-}"
    run find "$QGANETI_ROOT/srv/qganeti/file-storage" "$QGANETI_ROOT/shared" -mindepth 1
    assert_output ""
    run "$LIBEXEC/lock-list" --no-headers
    assert_output ""
}

@test "add creates sparse disk files, installs the OS, starts the instance; list and info show it" {
    init_cluster
    run add -t file --disk 0:size=1G,mode=ro,name=root --disk 1:size=2G -B memory=256,vcpus=2 \
        --tags web,prod web1
    assert_success
    assert_line --regexp ' Selected nodes for instance web1 via iallocator hail: node1\.example\.com$'
    assert_line --regexp ' \* creating instance disks\.\.\.$'
    assert_line --regexp ' \* running the instance OS create scripts\.\.\.$'
    assert_line --regexp ' \* starting instance\.\.\.$'
    dir=$QGANETI_ROOT/srv/qganeti/file-storage/web1
    [ "$(ls "$dir" | wc -l)" -eq 2 ]
    [ "$(stat -c %s "$dir"/*.file.disk0)" -eq $((1024 * 1048576)) ]
    [ "$(stat -c %s "$dir"/*.file.disk1)" -eq $((2048 * 1048576)) ]
    [ "$(stat -c %b "$dir"/*.file.disk1)" -lt 100 ]      # sparse: nearly no blocks
    run gnt-instance list
    assert_line --index 0 --regexp '^Instance +Hypervisor +OS +Primary_node +Status +Memory$'
    assert_line --index 1 --regexp '^web1 +fake +noop +node1\.example\.com +running +256M$'
    run gnt-instance list --no-headers -o name,disk_template,disk.sizes,disk.count,be/vcpus,tags,admin_state,oper_state
    assert_output --regexp '^web1 +file +1024,2048 +2 +2 +prod,web +up +Y$'
    run gnt-instance info web1
    assert_success
    assert_line "- Instance name: web1"
    assert_line "  State: configured to be up, actual state is up"
    assert_line "    - primary: node1.example.com"
    assert_line "  Operating system: noop"
    assert_line "  Hypervisor: fake"
    assert_line "    memory: default (256)"
    assert_line "    vcpus: 2"
    assert_line "    auto_balance: default (True)"
    assert_line "  Disk template: file"
    assert_line "    - disk/0: file, size 1.0G"
    assert_line "      access mode: ro"
    assert_line "      name: root"
    assert_line "    - disk/1: file, size 2.0G"
    assert_line --regexp "^      on primary: $QGANETI_ROOT/srv/qganeti/file-storage/web1/[0-9a-f-]+\.file\.disk1 \(N/A:N/A\)$"
    assert_line --regexp '^      MAC: aa:00:00(:[0-9a-f]{2}){3}$'
    run gnt-instance console web1
    assert_success
    assert_output --partial "fake: instance web1 started (memory 256 MiB, 2 VCPUs)"
}

@test "sharedfile disks live in the shared directory, used as given; diskless has none" {
    init_cluster
    run add -t sharedfile -s 1G --no-start shared1
    assert_success
    ls "$QGANETI_ROOT"/shared/shared1/*.sharedfile.disk0
    run add -t diskless --no-start nodisk1
    assert_success
    run gnt-instance list --no-headers -o name,disk_template,disk.count,status
    assert_line --regexp '^nodisk1 +diskless +0 +ADMIN_down$'
    assert_line --regexp '^shared1 +sharedfile +1 +ADMIN_down$'
}

@test "--no-install, --no-start, -n, --dry-run and --submit" {
    init_cluster
    run add -t file -s 1G --no-install plain1
    assert_success
    assert_line --regexp ' No-installation mode selected, disabling startup$'
    refute_output --partial "OS create scripts"
    run add -t file -s 1G -n node1.example.com --no-start placed1
    assert_success
    refute_output --partial "via iallocator"
    run add -t diskless --no-start -I hail alloc1
    assert_success
    assert_line --regexp ' Selected nodes for instance alloc1 via iallocator hail: node1\.example\.com$'
    run add -t diskless --no-start -I hail -n node1.example.com alloc2
    assert_failure 1
    assert_output --partial "Give either the iallocator or the new node (iallocator or pnode), not both"
    run add -t file -s 1G --dry-run dry1
    assert_success
    run add -t file -s 1G --submit sub1
    assert_success
    assert_output --regexp '^JobID: [0-9]+$'
    wait_until "[ \"\$(job_status ${output#JobID: })\" = success ]" 30
    run gnt-instance list --no-headers -o name,status
    assert_output --regexp $'^alloc1 +ADMIN_down\nplaced1 +ADMIN_down\nplain1 +ADMIN_down\nsub1 +running$'
    [ ! -e "$QGANETI_ROOT/srv/qganeti/file-storage/dry1" ]
    run gnt-instance add -t file -s 1G -o noop --no-name-check sub2
    assert_failure 1
    assert_output --partial "Cannot do IP address check without a name check"
}

@test "the name check resolves through the root's etc/hosts first" {
    init_cluster
    mkdir -p "$QGANETI_ROOT/etc"
    echo "192.0.2.50 web2.example.com web2" > "$QGANETI_ROOT/etc/hosts"
    run gnt-instance add -t diskless -o noop --no-start --no-ip-check --net 0:ip=auto web2
    assert_success
    assert_line --regexp " Resolved given name 'web2' to 'web2\.example\.com'$"
    run gnt-instance list --no-headers -o name,nic.ips
    assert_output --regexp '^web2\.example\.com +192\.0\.2\.50$'
    run gnt-instance add -t diskless -o noop --no-start --no-ip-check nosuchhost
    assert_failure 1
    assert_output "Failure: can't resolve hostname 'nosuchhost'"
}

@test "duplicate, empty, too long and odd names are refused; nothing is created" {
    init_cluster
    add -t diskless --no-start web1
    run add -t file -s 1G web1
    assert_failure 1
    assert_output $'Failure: prerequisites not met for this operation:\nerror type: already_exists, error details:\nInstance \'web1\' is already in the cluster'
    long=$(printf 'x%.0s' $(seq 256))
    for name in "" "a b" "../x" "x;y" "-x" "web\$(id)" "$long" $'web\nx' "a..b"; do
        run add -t file -s 1G -- "$name"
        assert_failure 1
        assert_output --partial "Invalid hostname '"
        refute_output --partial Traceback
    done
    run add -t file -s 1G --force
    assert_failure 1
    assert_output "Error: Command add expects 1 argument(s)"
    assert_nothing_left web1
}

@test "unknown OS, hypervisor or parameter, bad memory and disks: Ganeti's errors, nothing created" {
    init_cluster
    run add -t file -s 1G -o nosuchos n1
    assert_failure 1
    assert_output --partial "OS Parameters validation failed on node node1.example.com: Directory for OS nosuchos not found in search path"
    run gnt-instance add -t file -s 1G --no-name-check --no-ip-check n1
    assert_failure 1
    assert_output --partial "No guest OS or OS image specified"
    run add -t file -s 1G -o noop+v1 n1
    assert_failure 1
    assert_output --partial "OS 'noop' doesn't support variants ('v1' passed)"
    run add -t diskless -H kvm --no-start n1
    assert_failure 1
    assert_output --partial "Selected hypervisor (kvm) not enabled in the cluster (fake)"
    run add -t diskless -H nosuchhv --no-start n1
    assert_failure 1
    assert_output --partial "Parameter 'OP_INSTANCE_CREATE.hypervisor' fails validation"
    run add -t diskless -H fake:nosuch=1 --no-start n1
    assert_failure 1
    assert_output "Parameter Error: Unknown parameter 'nosuch'"
    run add -t diskless -B nosuch=1 --no-start n1
    assert_failure 1
    assert_output "Parameter Error: Unknown parameter 'nosuch'"
    run add -t diskless -B vcpus=many --no-start n1
    assert_failure 1
    assert_output "Parameter Error: 'vcpus' (value many) is not a valid integer"
    run add -t plain -s 1G n1
    assert_failure 1
    assert_output --partial "Disk template 'plain' is not enabled in cluster. Enabled disk templates are: diskless,file,sharedfile"
    # memory and disk beyond what the node has (the policy set aside)
    run add -t diskless -B memory=10T --ignore-ipolicy n1
    assert_failure 1
    assert_output --regexp 'error type: insufficient_resources, error details:'$'\n''Not enough memory on node node1\.example\.com for creating instance n1: needed 10485760 MiB, available [0-9]+ MiB$'
    run add -t file -s 100T --ignore-ipolicy n1
    assert_failure 1
    assert_output --regexp 'Not enough disk space on target node node1\.example\.com file storage: required 104857600 MiB, available [0-9]+ MiB$'
    run add -t file -s 100T n1
    assert_failure 1
    assert_output --partial "violates policy: disk-size/0 value 104857600 is not in range [1024, 1048576]"
    # disk sizes 0 and negative
    run add -t file -s 0 n1
    assert_failure 1
    assert_output --partial "No disk information specified"
    run add -t file --disk 0:size=0 n1
    assert_failure 1
    assert_output --partial "Invalid disk size '0' (disk 0)"
    run add -t file --disk 0:size=-5 n1
    assert_failure 1
    assert_output --partial "Invalid disk size for disk 0: Invalid format"
    run add -t file -s -5 n1
    assert_failure 2
    assert_output --partial "option -s: Invalid format"
    run add -t file --disk 1:size=1G n1
    assert_failure 1
    assert_output --partial "Missing disk size"
    run add -t diskless -s 1G n1
    assert_failure 1
    assert_output --partial "Diskless instance but disk information passed"
    run add -t file -s 1G --net 0:mac=zz n1
    assert_failure 1
    assert_output --partial "Invalid MAC address 'zz'"
    run add -t file -s 1G --net 0:ip=10.0.0 n1
    assert_failure 1
    assert_output --partial "Invalid IP address '10.0.0'"
    run add -t file -s 1G --net 0:mode=bridge n1
    assert_failure 1
    assert_output --partial "Invalid NIC mode 'bridge'"
    assert_nothing_left
    run gnt-job list --no-headers -o status
    refute_output --partial running
}

@test "a failed add is undone: no disk, no directory, no config entry, no lock" {
    init_cluster
    # an OS whose create script fails, found first in the root's search path
    os_dir=$QGANETI_ROOT/srv/qganeti/os/failing
    cp -r "$REPO/os/noop" "$os_dir"
    printf '#!/bin/sh\necho "failing: no space for the install" >&2\nexit 1\n' > "$os_dir/create"
    chmod +x "$os_dir/create"
    run gnt-instance add -t file --disk 0:size=1G --disk 1:size=1G -o failing \
        --no-name-check --no-ip-check web1
    assert_failure 1
    assert_output --partial "* creating instance disks..."
    assert_output --partial "Could not add os for instance web1 on node node1.example.com"
    assert_output --partial "failing: no space for the install"
    assert_nothing_left
    # and a failing pre hook stops the add before anything exists
    mkdir -p "$QGANETI_ROOT/etc/qganeti/hooks/instance-add-pre.d"
    printf '#!/bin/sh\necho "not today"\nexit 1\n' > "$QGANETI_ROOT/etc/qganeti/hooks/instance-add-pre.d/10-veto"
    chmod +x "$QGANETI_ROOT/etc/qganeti/hooks/instance-add-pre.d/10-veto"
    run add -t file -s 1G web2
    assert_failure 1
    assert_output --partial "Failure: hooks execution failed:"
    assert_output --partial "node: node1.example.com, script: 10-veto, output: not today"
    assert_nothing_left
}

@test "a killed add (gnt-job cancel --kill) is undone as well" {
    init_cluster
    os_dir=$QGANETI_ROOT/srv/qganeti/os/slow
    cp -r "$REPO/os/noop" "$os_dir"
    printf '#!/bin/sh\nsleep 60\n' > "$os_dir/create"
    chmod +x "$os_dir/create"
    run gnt-instance add --submit -t file -s 1G -o slow --no-name-check --no-ip-check web1
    jid=${output#JobID: }
    wait_until "pgrep -f -- '$os_dir/create' >/dev/null" 30   # this root's, not another test's
    [ -d "$QGANETI_ROOT/srv/qganeti/file-storage/web1" ]
    run gnt-job cancel --kill --yes-do-it "$jid"
    assert_success
    wait_until "[ \"\$(job_status $jid)\" = canceled ]" 40
    assert_nothing_left
}
