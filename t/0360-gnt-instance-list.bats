#!/usr/bin/env bats
# gnt-instance list, list-fields, info and batch-create.

load lib/common

teardown() {
    destroy_cluster
}

add() {
    gnt-instance add --no-name-check --no-ip-check -o noop "$@" >/dev/null
}

three_instances() {
    init_cluster
    add -t file -s 1G -B memory=512 web1
    add -t file --disk 0:size=2G --disk 1:size=1G --no-start web2
    add -t diskless --no-start --tags db db10
}

@test "list: default columns, -o, -o +, --no-headers, --separator, --units, names" {
    three_instances
    run gnt-instance list
    assert_success
    assert_output --regexp $'^Instance +Hypervisor +OS +Primary_node +Status +Memory\n'
    assert_line --index 1 --regexp '^db10 +fake +noop +node1\.example\.com +ADMIN_down +-$'
    assert_line --index 3 --regexp '^web2 '
    run gnt-instance list -o name,status,pnode,be/memory
    assert_line --index 0 --regexp '^Instance +Status +Primary_node +ConfigMaxMem$'
    assert_line --index 3 --regexp '^web2 +ADMIN_down +node1\.example\.com +128M$'
    run gnt-instance list -o +disk.count --no-headers web1 web2
    assert_output --regexp $'^web1 +fake +noop +node1\\.example\\.com +running +512M +1\nweb2 .* 2$'
    run gnt-instance list --no-headers --separator=: -o name,be/memory,disk.sizes --units=g
    assert_output $'db10:0.1:\nweb1:0.5:1024\nweb2:0.1:2048,1024'
    run gnt-instance list --no-headers --separator=: -o name,be/memory --units=m web2
    assert_output "web2:128"
    run gnt-instance list nosuch
    assert_failure 1
    assert_output --partial "Instance name nosuch not found"
    run gnt-instance list -o name,nosuchfield
    assert_failure 14
    assert_output --partial "Warning: Queried for unknown fields nosuchfield"
    run gnt-instance list -v --no-headers -o name,nic.macs web1
    assert_output --regexp '^web1 +aa:00:00(:[0-9a-f]{2}){3}$'
}

@test "list -F filters with Ganeti's query language" {
    three_instances
    run gnt-instance list --no-headers -o name -F 'be/memory > 256'
    assert_output "web1"
    run gnt-instance list --no-headers -o name -F 'admin_state == "down" and name =~ /^web/'
    assert_output "web2"
    # as in Ganeti (pyparsing skips the blank), a word after a regexp reads as its flags
    run gnt-instance list --no-headers -o name -F 'name =~ /^web/ and admin_state == "down"'
    assert_failure 1
    assert_output --partial "Unknown regular expression flags: 'adn'"
    run gnt-instance list --no-headers -o name -F '"db" in tags or disk.count > 1'
    assert_output $'db10\nweb2'
    run gnt-instance list --no-headers -o name -F 'name =~'
    assert_failure 1
    assert_output --partial "Error while parsing query filter"
}

@test "list-fields lists Ganeti's fields and snapshots" {
    init_cluster
    run gnt-instance list-fields
    assert_success
    assert_line --index 0 --regexp '^Name +Type +Title +Description$'
    assert_line --regexp '^be/memory +Storage size +ConfigMaxMem +'
    assert_line --regexp '^snapshots +Custom +Snapshots +'
    assert_line --regexp '^oper_state +Boolean +Running +'
    run gnt-instance list-fields name status
    assert_output --regexp $'^Name +Type +Title +Description\nname +Text +Instance +Instance name\nstatus +Text +Status +'
    # output into a closed pipe ends the command quietly
    run bash -c "gnt-instance list-fields | head -n 1"
    assert_success
    refute_output --partial Traceback
}

@test "info: one instance, several, --all, -s; unknown names" {
    three_instances
    run gnt-instance info web1 web2
    assert_success
    [ "$(echo "$output" | grep -c '^- Instance name: ')" -eq 2 ]
    run gnt-instance info -s web2
    assert_success
    assert_line "  State: configured to be down"
    assert_line "    - disk/1: file, size 1.0G"
    run gnt-instance info --all
    [ "$(echo "$output" | grep -c '^- Instance name: ')" -eq 3 ]
    run gnt-instance info
    assert_failure 1
    assert_output --partial "No instance selected. Please pass in --all if you want to query all instances."
    run gnt-instance info nosuch
    assert_failure 1
    assert_output --partial "Instance 'nosuch' not known"
}

@test "batch-create: a list of OP_INSTANCE_CREATE parameters, one job each" {
    init_cluster
    cat > "$BATS_TEST_TMPDIR/batch.json" <<'EOF'
[{"mode": "create", "instance_name": "b1", "disk_template": "file", "disks": [{"size": 1024}],
  "nics": [{}], "os_type": "noop", "name_check": false, "ip_check": false},
 {"mode": "create", "instance_name": "b2", "disk_template": "diskless", "disks": [],
  "nics": [{}], "os_type": "noop", "name_check": false, "ip_check": false, "start": false},
 {"mode": "create", "instance_name": "b3", "disk_template": "diskless", "disks": [],
  "nics": [{}], "os_type": "nosuchos", "name_check": false, "ip_check": false, "start": false}]
EOF
    run gnt-instance batch-create "$BATS_TEST_TMPDIR/batch.json"
    assert_failure 1
    assert_line --regexp '^Submitted jobs [0-9]+, [0-9]+, [0-9]+$'
    assert_line "There were 1 errors during the creation."
    assert_output --partial "Directory for OS nosuchos not found in search path"
    run gnt-instance list --no-headers -o name,status
    assert_output --regexp $'^b1 +running\nb2 +ADMIN_down$'
    echo '[{"mode": "create", "instance_name": "b4", "disk_template": "diskless", "disks": [], "nics": [{}], "os_type": "noop", "name_check": false, "ip_check": false, "start": false}]' \
        > "$BATS_TEST_TMPDIR/one.json"
    run gnt-instance batch-create "$BATS_TEST_TMPDIR/one.json"
    assert_success
    assert_line "All instances created successfully."
    echo '{"b5": {}}' > "$BATS_TEST_TMPDIR/bad.json"
    run gnt-instance batch-create "$BATS_TEST_TMPDIR/bad.json"
    assert_failure 1
    assert_output "The instance definition file is not List of Dictionary"
    echo '[{"instance_name": "b5", "colour": "red"}]' > "$BATS_TEST_TMPDIR/bad.json"
    run gnt-instance batch-create "$BATS_TEST_TMPDIR/bad.json"
    assert_failure 1
    assert_output --partial "Unknown fields in definition 0: colour"
    echo 'not json' > "$BATS_TEST_TMPDIR/bad.json"
    run gnt-instance batch-create "$BATS_TEST_TMPDIR/bad.json"
    assert_failure 1
    assert_output --partial "Can't parse the instance definition file"
    run gnt-instance list --no-headers -o name
    assert_output $'b1\nb2\nb4'
}

@test "live data that does not come in time: Ganeti's no-data status, no hang, no process left" {
    new_root
    mkdir -p "$QGANETI_ROOT/etc/qganeti"
    printf 'luxid:\n  node_query_timeout: 1\n' > "$QGANETI_ROOT/etc/qganeti/qganeti.yaml"
    init_cluster
    add -t diskless web1
    run gnt-instance list --no-headers -o name,status,oper_ram
    assert_output --regexp '^web1 +running +128M$'
    # a state file the node's instance-list blocks on (a FIFO nobody writes)
    mkfifo "$QGANETI_ROOT/var/run/qganeti/fake-hypervisor/stuck"
    sleep 2.1        # the live data cache (live_data_ttl) expires
    start=$SECONDS
    run gnt-instance list --no-headers -o name,status,oper_state,oper_ram
    assert_success
    assert_output --regexp '^web1 +ERROR_nodedown +\? +\?$'
    run gnt-node list --no-headers -o name,mfree,pinst_cnt
    assert_output --regexp '^node1\.example\.com +\? +1$'
    [ $((SECONDS - start)) -lt 10 ]
    run pgrep -f "$LIBEXEC/node/instance-list"
    [ -z "$(for pid in $output; do grep -lz "QGANETI_ROOT=$QGANETI_ROOT" /proc/$pid/environ 2>/dev/null; done)" ]
    rm "$QGANETI_ROOT/var/run/qganeti/fake-hypervisor/stuck"
    sleep 2.1
    run gnt-instance list --no-headers -o name,status
    assert_output --regexp '^web1 +running$'
}
