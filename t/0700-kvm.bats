#!/usr/bin/env bats
# The kvm hypervisor: a real Linux guest booted, reached, rebooted, stopped.

load lib/common
load lib/kvm

teardown() {
    kvm_teardown
}

@test "a real kernel boots from gnt-instance add, prints on its console, reboots and powers off" {
    kvm_cluster
    run kvm_add -t file -s 64M -B memory=192 --net 0:mac=aa:00:00:00:07:01 vm1.example.com
    assert_success
    wait_console vm1.example.com "QGANETI-GUEST-UP"
    boot1=$(grep -a QGANETI-GUEST-UP "$(serial_log vm1.example.com)" | tail -n 1)

    run gnt-instance list --no-headers -o name,status,oper_ram vm1.example.com
    assert_output --regexp '^vm1\.example\.com +running +192M$'
    run gnt-instance info vm1.example.com
    assert_line --regexp '^  Accelerator: (kvm|tcg \(kvm_flag is disabled\))$'
    assert_line "  State: configured to be up, actual state is up"

    # the guest sees its disk and its NIC, and the tap is on the bridge
    run console_run vm1.example.com 'cat /sys/block/vda/size /sys/class/net/eth0/address'
    assert_output --partial "131072"
    assert_output --partial "aa:00:00:00:07:01"
    tap=$(cat "$QGANETI_ROOT/$KVM_RUN_DIR/nic/vm1.example.com/0")
    run ip -n "$NETNS" -o link show master br0
    assert_output --partial "$tap"

    # soft reboot: ACPI power button, then a new qemu from the runtime file
    run gnt-instance reboot --type=soft vm1.example.com
    assert_success
    wait_console vm1.example.com "QGANETI-GUEST: power button"
    wait_console vm1.example.com "QGANETI-GUEST-UP" 2
    boot2=$(grep -a QGANETI-GUEST-UP "$(serial_log vm1.example.com)" | tail -n 1)
    [ "$boot1" != "$boot2" ] || fail "the guest did not boot again"

    # clean shutdown: the guest powers off by itself, nothing is left
    pid=$(qemu_pid vm1.example.com)
    run gnt-instance shutdown --timeout=60 vm1.example.com
    assert_success
    wait_console vm1.example.com "reboot: Power down"
    process_gone "$pid"
    run ls "$QGANETI_ROOT/$KVM_RUN_DIR/pid" "$QGANETI_ROOT/$KVM_RUN_DIR/conf"
    refute_output --partial vm1
    run ip -n "$NETNS" -o link show master br0
    refute_output --partial "$tap"
    run grep -c killed "$QGANETI_ROOT/var/log/qganeti/kvm/vm1.example.com.log"
    assert_output 0
    run gnt-instance list --no-headers -o status vm1.example.com
    assert_output "ADMIN_down"
}

@test "console: --show-cmd prints Ganeti's ssh command, the console reaches the guest's shell" {
    kvm_cluster
    run kvm_add -t diskless --no-nics -B memory=192 vm2.example.com
    assert_success
    run gnt-instance console --show-cmd vm2.example.com
    assert_success
    assert_output --regexp "^ssh -oEscapeChar=none .* -oBatchMode=yes -oStrictHostKeyChecking=yes -t root@node1\.example\.com 'socat STDIO,raw,echo=0,escape=0x1d UNIX-CONNECT:$QGANETI_ROOT/$KVM_RUN_DIR/ctrl/vm2\.example\.com\.serial'\$"
    wait_console vm2.example.com "QGANETI-GUEST-UP"
    # through gnt-instance console itself, on a terminal (script gives it one)
    run bash -c '{ sleep 1; echo "echo console-\$((6 * 7))"; sleep 2; printf "\035"; } |
        script -qec "gnt-instance console vm2.example.com" /dev/null'
    assert_output --partial "console-42"
}

@test "runtime memory goes through the virtio balloon into the guest" {
    kvm_cluster
    run kvm_add -t diskless --no-nics -B minmem=128,maxmem=256 vm3.example.com
    assert_success
    wait_console vm3.example.com "QGANETI-GUEST-UP"
    run gnt-instance modify --ignore-ipolicy --runtime-memory=160 vm3.example.com
    assert_success
    run bash -c 'for i in $(seq 100); do
        m=$(gnt-instance list --no-headers -o oper_ram vm3.example.com)
        [ "$m" = 160M ] && echo ok && exit; sleep 0.3; done; echo "$m"'
    assert_output ok
    run console_run vm3.example.com 'grep MemTotal /proc/meminfo'
    assert_output --regexp 'MemTotal: +1[0-9]{5} kB'
}

@test "a routed NIC is a tap with a host route to its IP in routing table LINK" {
    kvm_cluster
    run kvm_add -t diskless -B memory=192 --net 0:mode=routed,link=100,ip=192.0.2.10 vm4.example.com
    assert_success
    tap=$(cat "$QGANETI_ROOT/$KVM_RUN_DIR/nic/vm4.example.com/0")
    run ip -n "$NETNS" route show table 100
    assert_output --regexp "^192\.0\.2\.10 dev $tap proto static"
    run ip -n "$NETNS" -o link show dev "$tap"
    assert_output --partial "UP"
    run gnt-instance shutdown --timeout=0 vm4.example.com
    assert_success
    run ip -n "$NETNS" route show table 100
    assert_output ""
}
