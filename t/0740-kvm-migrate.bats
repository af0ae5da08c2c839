#!/usr/bin/env bats
# kvm live migration end to end: `gnt-instance migrate` moves a running guest
# between two virtual nodes (qemu -incoming on the target, QMP migrate on the
# source); the guest keeps counting on its console, without a reboot, and the
# config follows.  TCG unless QGANETI_TEST_KVM=1; no NICs, so no bridges.

load lib/common
load lib/vcluster
load lib/kvm

teardown() { vc_down; }

serial() {   # NODE NAME: the guest's console log on that node
    echo "$VC/$1/var/log/qganeti/kvm/$2.serial.log"
}

last_tick() {   # NODE NAME
    grep -a '^tick ' "$(serial "$1" "$2")" 2>/dev/null | tail -n 1 | tr -dc '0-9'
}

wait_tick_above() {   # NODE NAME N: until the console there shows a tick > N
    local t deadline=$((SECONDS + 120))
    while :; do
        t=$(last_tick "$1" "$2")
        [ -n "$t" ] && [ "$t" -gt "$3" ] && return 0
        [ "$SECONDS" -lt "$deadline" ] || { tail -c 1000 "$(serial "$1" "$2")"; return 1; }
        sleep 0.2
    done
}

kvm_vcluster() {
    kvm_require
    vc_up 2
    vc_init --enabled-hypervisors=kvm \
        -H "kvm:kvm_flag=$(kvm_flag),kernel_path=$KERNEL,initrd_path=$INITRD,kernel_args=quiet panic=-1 qganeti.ticks"
    run gnt-node add node2.example.com
    [ "$status" -eq 0 ] || fail "gnt-node add failed: $output"
}

@test "a running kvm guest migrates live to the node the iallocator picks and back" {
    kvm_vcluster
    run kvm_add -t sharedfile -s 64M --no-nics -B memory=128 -n node1.example.com vm1
    assert_success
    wait_tick_above node1 vm1 5
    pid1=$(cat "$VC/node1/$KVM_RUN_DIR/pid/vm1")
    before=$(last_tick node1 vm1)
    run gnt-instance migrate -f vm1
    assert_success
    assert_output --partial "Selected nodes for instance vm1 via iallocator hail: node2.example.com"
    assert_output --partial "* memory transfer progress:"
    assert_output --regexp "\* transfer took [0-9]+ ms, the guest was paused for [0-9]+ ms"
    assert_output --partial "* done"
    run gnt-instance list --no-headers -o pnode,status,oper_state vm1
    assert_output --regexp '^node2\.example\.com +running +Y$'
    # the same guest counts on over there: no second boot
    wait_tick_above node2 vm1 "$before"
    run grep -ac QGANETI-GUEST-UP "$(serial node2 vm1)"
    assert_output 0
    # the source qemu is gone, its state files too
    process_gone "$pid1"
    [ ! -e "$VC/node1/$KVM_RUN_DIR/pid/vm1" ]
    [ ! -e "$VC/node1/$KVM_RUN_DIR/conf/vm1.runtime" ]
    # and back, by name, non-live (paused during the copy)
    before=$(last_tick node2 vm1)
    run gnt-instance migrate -f --non-live -n node1.example.com vm1
    assert_success
    run gnt-instance list --no-headers -o pnode,status vm1
    assert_output --regexp '^node1\.example\.com +running$'
    wait_tick_above node1 vm1 "$before"
    run grep -ac QGANETI-GUEST-UP "$(serial node1 vm1)"
    assert_output 1
    [ ! -e "$VC/node2/$KVM_RUN_DIR/pid/vm1" ]
}

@test "a kvm migration the target cannot take is rolled back; the guest runs on" {
    kvm_vcluster
    run kvm_add -t diskless --no-nics -B memory=128 -n node1.example.com vm1
    assert_success
    wait_tick_above node1 vm1 2
    # something else listens on the target's migration port: qemu -incoming fails
    "$PYTHON" -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.12", 8102)); s.listen(1); sys.stdout.close(); time.sleep(120)' &
    blocker=$!
    sleep 0.5
    run gnt-instance migrate -f vm1
    kill "$blocker"
    assert_failure
    assert_output --partial "Could not pre-migrate instance vm1: Node node2.example.com: instance-accept failed:"
    assert_output --partial "Address already in use"
    run gnt-instance list --no-headers -o pnode,status vm1
    assert_output --regexp '^node1\.example\.com +running$'
    before=$(last_tick node1 vm1)
    wait_tick_above node1 vm1 "$before"
    [ ! -e "$VC/node2/$KVM_RUN_DIR/pid/vm1" ]
}
