#!/usr/bin/env bats
# The iallocator placing instances on a virtual cluster: migrate and failover
# without a target (relocate), gnt-node evacuate/migrate/failover
# (node-evacuate), gnt-group evacuate and gnt-instance change-group
# (change-group), batch-create (multi-allocate).  The answers run as
# follow-up jobs, as in Ganeti.

load lib/common
load lib/vcluster

teardown() { vc_down; }

pnode_of() {
    gnt-instance list --no-headers -o pnode "$1"
}

@test "migrate and failover without a target: the iallocator picks a node of the group" {
    vc_cluster 3
    add_instance web1 sharedfile node1
    run gnt-instance migrate -f web1
    assert_success
    assert_output --regexp "Selected nodes for instance web1 via iallocator hail: node[23]\.example\.com"
    target=$(pnode_of web1)
    [ "$target" != node1.example.com ]
    run gnt-instance list --no-headers -o status web1
    assert_output running
    assert [ -e "$VC/${target%%.*}/var/run/qganeti/fake-hypervisor/web1" ]
    assert [ ! -e "$VC/node1/var/run/qganeti/fake-hypervisor/web1" ]
    run gnt-instance failover -f web1
    assert_success
    assert_output --partial "Selected nodes for instance web1 via iallocator hail:"
    [ "$(pnode_of web1)" != "$target" ]
    # -I names the allocator; an unknown one is Ganeti's error, nothing moves
    where=$(pnode_of web1)
    run gnt-instance migrate -f -I nosuch web1
    assert_failure
    assert_output --partial "iallocator module 'nosuch' not found in the search path"
    [ "$(pnode_of web1)" = "$where" ]
    run gnt-instance migrate -f -I hail -n node1.example.com web1
    assert_failure
    assert_output --partial "Specify either an iallocator (-I), or a target node (-n) but not both"
    run gnt-instance migrate -f -I . web1
    assert_success
    assert_output --partial "Selected nodes for instance web1 via iallocator hail:"
    # file disks cannot be relocated
    add_instance f1 file node1 --no-start
    run gnt-instance failover -f f1
    assert_failure
    assert_output --partial "Instance's disk layout 'file' does not allow failovers"
}

@test "gnt-node evacuate without -n: the iallocator's jobs move the instances" {
    vc_cluster 3
    add_instance a1 sharedfile node1
    add_instance a2 diskless node1
    add_instance a3 sharedfile node1 --no-start
    run gnt-node evacuate -f node1.example.com
    assert_success
    assert_output --partial "Instances to be moved: "
    assert_output --partial "All instances evacuated successfully."
    for i in a1 a2 a3; do
        [ "$(pnode_of $i)" != node1.example.com ] || fail "$i is still on node1"
    done
    run gnt-instance list --no-headers -o name,status
    assert_line --regexp '^a1 +running$'
    assert_line --regexp '^a3 +ADMIN_down$'
    # the jobs the allocator planned (as Ganeti's hail: migrations that may
    # fall back to a failover, which a stopped instance does)
    run gnt-job list --no-headers -o summary
    assert_output --partial "INSTANCE_MIGRATE(a1)"
    assert_output --partial "INSTANCE_MIGRATE(a3)"
}

@test "node evacuate fails as Ganeti's when the allocator cannot place an instance" {
    vc_cluster 2
    add_instance a1 sharedfile node1
    add_instance f1 file node1 --no-start
    run gnt-node evacuate -f node1.example.com
    assert_failure
    assert_output --partial "Unable to evacuate instances f1 (Instances of type file cannot be relocated)"
    run gnt-instance list --no-headers -o name,pnode
    assert_line --regexp '^a1 +node1.example.com$'
    # an unknown allocator
    run gnt-node evacuate -f -I nosuch node1.example.com
    assert_failure
    assert_output --partial "iallocator module 'nosuch' not found in the search path"
}

@test "gnt-node migrate and failover without -n place each instance by the iallocator" {
    vc_cluster 3
    add_instance a1 sharedfile node1
    add_instance a2 diskless node1
    run gnt-node migrate -f node1.example.com
    assert_success
    assert_output --partial "All instances migrated successfully."
    for i in a1 a2; do
        [ "$(pnode_of $i)" != node1.example.com ] || fail "$i is still on node1"
    done
    node=$(pnode_of a1)
    run gnt-node failover -f "$node"
    assert_success
    assert_output --partial "instance(s) failed over successfully."
    [ "$(pnode_of a1)" != "$node" ]
}

@test "gnt-group evacuate and gnt-instance change-group move instances to another group" {
    vc_cluster 4
    run gnt-group add other
    assert_success
    run gnt-group assign-nodes other node3.example.com node4.example.com
    assert_success
    add_instance a1 sharedfile node1
    add_instance a2 diskless node2
    run gnt-instance change-group --to other a1
    assert_success
    assert_output --partial "Instance 'a1' changed group successfully."
    [[ "$(pnode_of a1)" = node[34].example.com ]]
    run gnt-instance list --no-headers -o status a1
    assert_output running
    add_instance a3 sharedfile node1
    run gnt-group evacuate --force-failover --sequential default
    assert_success
    assert_output --partial "Will insist on failovers"
    assert_output --partial "Jobs will be submitted to run sequentially"
    assert_output --partial "All instances evacuated successfully."
    [[ "$(pnode_of a2)" = node[34].example.com ]]
    [[ "$(pnode_of a3)" = node[34].example.com ]]
    run gnt-job list --no-headers -o summary
    assert_output --partial "INSTANCE_FAILOVER(a2)"
    assert_output --partial "INSTANCE_FAILOVER(a3)"
    refute_output --partial "INSTANCE_MIGRATE(a2)"
    # nothing left to do: no jobs, success
    run gnt-group evacuate default
    assert_success
    # no other group to go to
    run gnt-instance change-group a1 --to other
    assert_failure
    assert_output --partial "Can't use group(s)"
}

@test "batch-create places all instances with one multi-allocate request" {
    vc_cluster 3
    cat > "$BATS_TEST_TMPDIR/batch.json" <<'JSON'
[
 {"mode": "create", "instance_name": "b1", "disk_template": "diskless", "disks": [], "nics": [{}], "os_type": "noop",
  "name_check": false, "ip_check": false, "start": false, "beparams": {"maxmem": 256, "minmem": 256}},
 {"mode": "create", "instance_name": "b2", "disk_template": "diskless", "disks": [], "nics": [{}], "os_type": "noop",
  "name_check": false, "ip_check": false, "start": false, "beparams": {"maxmem": 256, "minmem": 256}},
 {"mode": "create", "instance_name": "b3", "disk_template": "sharedfile", "disks": [{"size": 1024}], "nics": [{}],
  "os_type": "noop", "name_check": false, "ip_check": false, "start": false}
]
JSON
    run gnt-instance batch-create -I hail "$BATS_TEST_TMPDIR/batch.json"
    assert_success
    assert_output --partial "All instances created successfully."
    run gnt-instance list --no-headers -o name
    assert_output "$(printf 'b1\nb2\nb3')"
    # the allocator's log: one request placed them all
    run gnt-job list --no-headers -o summary
    assert_output --partial "INSTANCE_MULTI_ALLOC"
    job=$(gnt-job list --no-headers -o id,summary | awk '/MULTI_ALLOC/ {print $1}')
    run gnt-job info "$job"
    assert_output --partial "Selected nodes for instance b1 via iallocator hail:"
    assert_output --partial "Selected nodes for instance b3 via iallocator hail:"
}

@test "batch-create: an instance the allocator cannot place refuses the whole batch" {
    vc_cluster 2
    cat > "$BATS_TEST_TMPDIR/batch.json" <<'JSON'
[
 {"mode": "create", "instance_name": "c1", "disk_template": "diskless", "disks": [], "nics": [{}],
  "os_type": "noop", "name_check": false, "ip_check": false, "start": false},
 {"mode": "create", "instance_name": "c2", "disk_template": "diskless", "disks": [], "nics": [{}],
  "os_type": "noop", "name_check": false, "ip_check": false, "start": false,
  "beparams": {"maxmem": 30000, "minmem": 30000}}
]
JSON
    run gnt-instance batch-create "$BATS_TEST_TMPDIR/batch.json"
    assert_failure
    assert_output --partial "Can't compute nodes using iallocator 'hail': Request failed:"
    run gnt-instance list --no-headers -o name
    assert_output ""
}
