#!/usr/bin/env bats
# gnt-instance modify --hotplug: disks and NICs in and out of a running guest.

load lib/common
load lib/kvm

teardown() {
    kvm_teardown
}

@test "disks and NICs are hotplugged into a running guest and out again" {
    kvm_cluster
    run kvm_add -t file -s 64M -B memory=192 --net 0:mac=aa:00:00:00:07:20 vm1.example.com
    assert_success
    wait_console vm1.example.com "QGANETI-GUEST-UP"

    run gnt-instance modify --ignore-ipolicy --hotplug --disk add:size=32M vm1.example.com
    assert_success
    assert_line " - disk/1 -> add:size=32,mode=rw"
    assert_line " - disk/1 -> hotplug:done"
    run gnt-instance modify --ignore-ipolicy --hotplug --net add:mac=aa:00:00:00:07:21 vm1.example.com
    assert_success
    assert_line " - nic.1 -> hotplug:done"
    # the guest's ACPI hotplug handler picks the devices up
    wait_until "console_run vm1.example.com 'ls /sys/block /sys/class/net' | grep -q eth1" 60
    run console_run vm1.example.com 'cat /sys/block/vdb/size /sys/class/net/eth1/address'
    assert_output --partial "65536"
    assert_output --partial "aa:00:00:00:07:21"
    tap=$(cat "$QGANETI_ROOT/$KVM_RUN_DIR/nic/vm1.example.com/0")
    run ip -n "$NETNS" -o link show master br0
    [ "$(echo "$output" | wc -l)" = 2 ] || fail "expected two taps on br0: $output"

    run gnt-instance modify --ignore-ipolicy --hotplug --disk 1:remove vm1.example.com
    assert_success
    assert_line " - disk/1 -> hotplug:done"
    run gnt-instance modify --ignore-ipolicy --hotplug --net 1:remove vm1.example.com
    assert_success
    assert_line " - nic/1 -> hotplug:done"
    run console_run vm1.example.com 'ls /sys/block /sys/class/net'
    refute_output --partial "vdb"
    refute_output --partial "eth1"
    run ip -n "$NETNS" -o link show master br0
    [ "$(echo "$output" | wc -l)" = 1 ] || fail "expected one tap on br0: $output"

    # the runtime follows: a restart brings up what the config says
    run gnt-instance info vm1.example.com
    refute_output --partial "disk/1"
}

@test "--hotplug needs a running instance, --hotplug-if-possible goes on without" {
    kvm_cluster
    run kvm_add -t file -s 64M -B memory=192 --no-nics --no-start vm2.example.com
    assert_success
    run gnt-instance modify --ignore-ipolicy --hotplug --disk add:size=32M vm2.example.com
    assert_failure 1
    assert_output --partial "Hotplug is not possible:"
    assert_output --partial "Instance vm2.example.com is not running"
    run gnt-instance modify --ignore-ipolicy --hotplug-if-possible --disk add:size=32M vm2.example.com
    assert_success
    assert_output --partial "modification will take place without hotplugging"
    refute_output --partial "hotplug:done"
}
