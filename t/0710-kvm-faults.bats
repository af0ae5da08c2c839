#!/usr/bin/env bats
# The kvm hypervisor's bad input and faults: clear errors, nothing left behind.

load lib/common
load lib/kvm

teardown() {
    kvm_teardown
}

nothing_left() {
    run ls "$QGANETI_ROOT/$KVM_RUN_DIR/pid" "$QGANETI_ROOT/$KVM_RUN_DIR/conf" \
        "$QGANETI_ROOT/$KVM_RUN_DIR/ctrl"
    refute_output --partial "$1"
}

@test "unknown or invalid hvparams are refused with Ganeti's messages" {
    kvm_cluster
    run kvm_add -t diskless --no-nics -H kvm:colour=blue vm1.example.com
    assert_failure 1
    assert_output --partial "Unknown parameter 'colour'"
    run kvm_add -t diskless --no-nics -H kvm:disk_cache=sometimes vm1.example.com
    assert_failure 1
    assert_output --partial "Parameter 'disk_cache' fails syntax check: The value must be one of: default, none, writethrough, writeback (current value: 'sometimes')"
    run kvm_add -t diskless --no-nics -H kvm:kernel_path=boot/vmlinuz vm1.example.com
    assert_failure 1
    assert_output --partial "Parameter 'kernel_path' fails syntax check: must be an absolute normalized path (current value: 'boot/vmlinuz')"
    run kvm_add -t diskless --no-nics -H kvm:serial_speed=1234 vm1.example.com
    assert_failure 1
    assert_output --partial "Invalid serial console speed, must be one of: 75, 110,"
    run kvm_add -t diskless --no-nics -H kvm:migration_port=99 vm1.example.com
    assert_failure 1
    assert_output --partial "global and cannot be customized at instance level"
    run gnt-instance list --no-headers -o name
    assert_output ""
}

@test "a missing kernel is refused before anything is created; qemu refusing to start fails the start with the reason" {
    kvm_cluster
    run kvm_add -t diskless --no-nics -H kvm:kernel_path=/nonexistent/vmlinuz vm1.example.com
    assert_failure 1
    assert_output --partial "Hypervisor parameter validation failed on node node1.example.com: Parameter 'kernel_path' fails validation: not found or not a file (current value: '/nonexistent/vmlinuz')"
    nothing_left vm1
    run gnt-instance list --no-headers -o name
    assert_output ""
    run kvm_add -t diskless --no-nics -H kvm:kvm_extra=-no-such-option vm2.example.com
    assert_failure 1
    assert_output --regexp "Failed to start instance vm2\.example\.com: qemu exited with code 1: .*-no-such-option: invalid option"
    nothing_left vm2
    run bash -c "pgrep -f -- '[-]pidfile $QGANETI_ROOT/' || true"
    assert_output ""
}

@test "a guest that ignores the ACPI power button is killed after the timeout" {
    kvm_cluster
    run kvm_add -t diskless --no-nics -H "kvm:kernel_args=quiet panic=-1 qganeti.noacpi" vm3.example.com
    assert_success
    pid=$(qemu_pid vm3.example.com)
    run gnt-instance shutdown --timeout=2 vm3.example.com
    assert_success
    assert_output --partial "did not shut down within 2 seconds, it was destroyed"
    process_gone "$pid"
    nothing_left vm3
    run gnt-instance list --no-headers -o status vm3.example.com
    assert_output "ADMIN_down"
}

@test "a crashed qemu is reported by gnt-cluster verify and can be started again" {
    kvm_cluster
    run kvm_add -t diskless --no-nics vm4.example.com
    assert_success
    run gnt-instance modify -H kernel_path=/nonexistent/vmlinuz vm4.example.com
    assert_failure 1
    assert_output --partial "Parameter 'kernel_path' fails validation: not found or not a file"
    kill -9 "$(qemu_pid vm4.example.com)"
    run gnt-instance list --no-headers -o status vm4.example.com
    assert_output "ERROR_down"
    run gnt-cluster verify
    assert_failure
    assert_output --partial "ERROR: instance vm4.example.com: instance not running on its primary node node1.example.com"
    run gnt-instance startup vm4.example.com
    assert_success
    run gnt-instance list --no-headers -o status vm4.example.com
    assert_output "running"
    run gnt-cluster verify
    refute_output --partial "ERROR: instance vm4.example.com"
}
