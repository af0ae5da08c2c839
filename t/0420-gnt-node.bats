#!/usr/bin/env bats
# gnt-node: the master node, its parameters and its storage.

load lib/common

teardown() {
    destroy_cluster
}

@test "gnt-node usage: help, aliases, argument counts" {
    run gnt-node --help
    assert_success
    assert_line --regexp '^ list-storage +- List physical volumes on node\(s\)'
    run gnt-node modify
    assert_failure 1
    assert_output "Error: Command modify expects 1 argument(s)"
    run gnt-node modify-storage node1 lvm-pv
    assert_failure 1
    assert_output "Error: Command modify-storage expects 3 argument(s)"
}

@test "list shows Ganeti's default columns with live data, and its options" {
    init_cluster
    run gnt-node list
    assert_success
    assert_line --index 0 --regexp '^Node +DTotal +DFree +MTotal +MNode +MFree +Pinst +Sinst$'
    assert_line --index 1 --regexp '^node1\.example\.com +[0-9.]+[MGT] +[0-9.]+[MGT] +[0-9.]+[MGT] +[0-9.]+[MGT] +[0-9.]+[MGT] +0 +0$'
    run gnt-node list --no-headers --separator=: -o name,role,mtotal,ctotal
    assert_output --regexp '^node1\.example\.com:M:[0-9]+:[0-9]+$'
    run gnt-node list --units=g -o +group node1
    assert_line --index 1 --regexp ' [0-9]+\.[0-9] .* default$'
    run gnt-node list -o name,colour
    assert_failure 14
    assert_line --partial "Queried for unknown fields colour"
    GNT_NODE_LIST="--no-headers -o name" run gnt-node list
    assert_output "node1.example.com"
}

@test "info shows Ganeti's fields, then what the node reports" {
    init_cluster
    run gnt-node info node1
    assert_success
    assert_line --index 0 "- Node name: node1.example.com"
    assert_line "  master candidate: True"
    assert_line "  master_capable: True"
    assert_line "  primary for instances: "
    assert_line "  node parameters: "
    assert_line "    cpu_speed: default (1)"
    assert_line "    ssh_port: default (22)"
    assert_line "  resources: "
    assert_line --regexp '^    total memory: [0-9.]+[MGT]$'
    assert_line --regexp '^    cpus: [0-9]+$'
    run gnt-node show nodeX
    assert_failure 1
    assert_output --partial "Node name nodeX not found"
}

@test "modify changes parameters and reports what changed; the master keeps its role" {
    init_cluster
    run gnt-node modify --node-parameters=spindle_count=4 node1
    assert_success
    run gnt-node info node1
    assert_line "    spindle_count: 4"
    run gnt-node modify --vm-capable=no node1
    assert_success
    assert_output "Modified node node1
 - vm_capable -> False"
    run gnt-node modify -D yes node1
    assert_failure 1
    assert_output --partial "The master role can be changed only via master-failover"
    run gnt-node modify node1
    assert_failure 1
    assert_output "Please give at least one of the parameters."
    run gnt-node modify --node-parameters=exclusive_storage=true node1
    assert_failure 1
    assert_output --partial "at node level, please modify them at cluster or group level: exclusive_storage"
    run gnt-node modify --vm-capable=maybe node1
    assert_failure 2
    run gnt-node remove node1
    assert_failure 1
    assert_output --partial "Node is the master node, failover to another node is required"
}

@test "list-storage shows the file storage directories" {
    init_cluster
    mkdir -p "$QGANETI_ROOT/srv/qganeti/file-storage/inst1"
    head -c 2097152 /dev/zero > "$QGANETI_ROOT/srv/qganeti/file-storage/inst1/x.file.disk0"
    run gnt-node list-storage -t file
    assert_success
    assert_line --index 0 --regexp '^Node +Type +Name +Size +Used +Free +Allocatable$'
    assert_line --index 1 --regexp '^node1\.example\.com file /srv/qganeti/file-storage +[0-9.]+[MGT] +2M +[0-9.]+[MGT] Y$'
    run gnt-node list-storage -t sharedfile --no-headers --separator=: -o name,used
    assert_output "$QGANETI_ROOT/shared:0"
    run gnt-node list-storage
    assert_failure 1
    assert_output --partial "Storage reporting for storage type 'diskless' is not supported"
    run gnt-node list-storage -t lvm-vg
    assert_failure 1
    assert_output --partial "No disk template of storage type 'lvm-vg' is enabled in this cluster"
    run gnt-node list-storage -t tape
    assert_failure 2
    run gnt-node modify-storage --allocatable=no node1 file x
    assert_failure 1
    assert_output --partial "Storage units of type 'file' can not be modified"
}

@test "node actions: storage-list and node-verify answer JSON, errors as documented" {
    run "$LIBEXEC/node/storage-list" --help
    assert_success
    run "$LIBEXEC/node/storage-list" sharedfile name,allocatable "$BATS_TEST_TMPDIR"
    assert_success
    assert_output "[[\"$BATS_TEST_TMPDIR\", true]]"
    run "$LIBEXEC/node/storage-list" lvm-vg name
    assert_failure 100
    assert_output "storage-list: fatal: unable to list lvm-vg storage: LVM is not available on this node"
    run "$LIBEXEC/node/storage-list"
    assert_failure 100
    run "$LIBEXEC/node/node-verify" <<< '{"version": null, "bridges": ["qgnobr0"]}'
    assert_success
    assert_output '{"version":[3000000,"3.0.2"],"bridges":["qgnobr0"]}'
    run "$LIBEXEC/node/node-verify" <<< 'not json'
    assert_failure 100
    assert_output --partial "node-verify: fatal: unable to read the request: "
}
