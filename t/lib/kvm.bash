# Shared set-up for the kvm tests: a one-node kvm cluster whose daemons (and
# so its qemu processes and tap devices) live in a network namespace of the
# test's own, with a bridge br0 there; the host's network is never touched.
# The guest is t/lib/kvm-guest's (cached in t/data/kvm/). Guests run under
# TCG unless QGANETI_TEST_KVM=1 (KVM acceleration is not usable everywhere
# /dev/kvm exists).

KVM_GUEST_DIR=$TESTDATA/kvm
KVM_RUN_DIR=var/run/qganeti/kvm-hypervisor

# Skip (cleanly) where real VMs cannot run; else set KERNEL and INITRD.
kvm_require() {
    command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"
    command -v socat >/dev/null || skip "socat is not installed"
    [ -x /bin/busybox ] || skip "busybox-static is not installed"
    [ "$(id -u)" = 0 ] || skip "needs root (network namespaces, tap devices)"
    local guest
    guest=$("$REPO/t/lib/kvm-guest" "$KVM_GUEST_DIR" 2>&1) || skip "no test guest: $guest"
    read -r KERNEL INITRD <<<"$guest"
}

kvm_flag() {
    [ "${QGANETI_TEST_KVM:-0}" = 1 ] && echo enabled || echo disabled
}

# A kvm cluster in a fresh root and network namespace; extra args go to init.
kvm_cluster() {
    kvm_require
    new_root
    NETNS=qgkvm-$$-${BATS_TEST_NUMBER}
    echo "$NETNS" > "$BATS_TEST_TMPDIR/netns"
    ip netns add "$NETNS"
    ip -n "$NETNS" link set lo up
    ip -n "$NETNS" link add br0 type bridge
    ip -n "$NETNS" link set br0 up
    run ip netns exec "$NETNS" gnt-cluster init --enabled-hypervisors=kvm \
        --enabled-disk-templates=diskless,file,sharedfile \
        --shared-file-storage-dir="$QGANETI_ROOT/shared" -N link=br0 \
        -H "kvm:kvm_flag=$(kvm_flag),kernel_path=$KERNEL,initrd_path=$INITRD,kernel_args=quiet panic=-1" \
        "$@" cluster.example.com
    [ "$status" -eq 0 ] || fail "gnt-cluster init failed: $output"
}

# Undo kvm_cluster: instances, daemons, any qemu of this root, the namespace.
kvm_teardown() {
    [ -n "${QGANETI_ROOT:-}" ] && [ "$QGANETI_ROOT" != / ] || return 0
    local name pidfile
    for name in $(gnt-instance list --no-headers -o name 2>/dev/null); do
        gnt-instance remove -f --shutdown-timeout=0 "$name" >/dev/null 2>&1 || true
    done
    destroy_cluster
    for pidfile in "$QGANETI_ROOT"/*/$KVM_RUN_DIR/pid/* "$QGANETI_ROOT/$KVM_RUN_DIR"/pid/*; do
        [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null
    done
    if [ -f "$BATS_TEST_TMPDIR/netns" ]; then
        ip netns del "$(cat "$BATS_TEST_TMPDIR/netns")" 2>/dev/null || true
    fi
    return 0
}

# gnt-instance add for a kvm guest, ipolicy ignored (tiny disks, no NICs).
kvm_add() {
    gnt-instance add --ignore-ipolicy -o noop --no-name-check --no-ip-check "$@"
}

# True once process $1 has ended (a zombie has ended too).
process_gone() {
    [ ! -d "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

serial_log() {
    echo "$QGANETI_ROOT/var/log/qganeti/kvm/$1.serial.log"
}

# Wait until instance $1's console shows pattern $2 at least $3 times.
wait_console() {
    local log count deadline=$((SECONDS + ${4:-180}))
    log=$(serial_log "$1")
    while :; do
        count=$(grep -ac -- "$2" "$log" 2>/dev/null || true)
        [ "${count:-0}" -ge "${3:-1}" ] && return 0
        [ "$SECONDS" -lt "$deadline" ] || { echo "console of $1:"; tail -c 2000 "$log"; return 1; }
        sleep 0.2
    done
}

# Type command $2 on instance $1's serial console; print what it printed
# (up to an end marker echoed after it; at most $3 seconds, default 60).
console_run() {
    "$PYTHON" - "$QGANETI_ROOT/$KVM_RUN_DIR/ctrl" "$1.serial" "$2" "${3:-60}" <<'PYEOF'
import os, socket, sys, time
directory, name, command, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
os.chdir(directory)     # the socket path may be longer than connect() takes
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(name)
sock.settimeout(0.5)
marker = "END-%d" % os.getpid()
sock.sendall(("%s; echo %s-$((1 + 1))\n" % (command, marker)).encode())
out, deadline = b"", time.monotonic() + timeout
while (marker + "-2").encode() not in out and time.monotonic() < deadline:
    try:
        out += sock.recv(65536)
    except socket.timeout:
        pass
sys.stdout.write(out.decode("utf-8", "replace"))
sys.exit(0 if (marker + "-2").encode() in out else 1)
PYEOF
}

qemu_pid() {
    cat "$QGANETI_ROOT/$KVM_RUN_DIR/pid/$1" 2>/dev/null
}
