#!/usr/bin/env bats
# Enabling the kvm hypervisor on a cluster, its parameters at cluster level.

load lib/common

teardown() {
    destroy_cluster
}

@test "gnt-cluster init and modify enable kvm; its cluster parameters are checked" {
    command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"
    command -v socat >/dev/null || skip "socat is not installed"
    init_cluster
    run gnt-cluster modify --enabled-hypervisors=fake,kvm
    assert_success
    run gnt-cluster info
    assert_line --regexp '^Enabled hypervisors: fake, kvm$'
    assert_line --regexp '^    kvm_flag: $'
    run gnt-cluster modify -H kvm:disk_type=floppy
    assert_failure 1
    assert_output --partial "Parameter 'disk_type' fails syntax check: The value must be one of: ide, scsi, sd, mtd, pflash, paravirtual"
    run gnt-cluster modify -H kvm:migration_bandwidth=100,kvm_flag=disabled
    assert_success
    run gnt-cluster verify
    refute_output --partial "hypervisor kvm verify failure"
    refute_output --partial "invalid hypervisor parameters"
    touch "$QGANETI_ROOT/vmlinuz"     # the node checks that the kernel exists
    run gnt-instance add -t diskless --no-nics --ignore-ipolicy -o noop --no-name-check \
        --no-ip-check --no-start -H "kvm:kernel_path=$QGANETI_ROOT/vmlinuz" vm1.example.com
    assert_success
    run gnt-instance list --no-headers -o name,hypervisor,network_port vm1.example.com
    assert_output --regexp '^vm1\.example\.com +kvm +11000$'
}
