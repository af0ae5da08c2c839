# Helpers for tests on a virtual multi-node cluster (t/lib/vcluster).
# Load after common.bash:  load lib/common; load lib/vcluster

VCLUSTER=$REPO/t/lib/vcluster

# Start N virtual nodes under $BATS_TEST_TMPDIR/vc (skip where sshd cannot run).
vc_up() {
    VC=$BATS_TEST_TMPDIR/vc
    run "$VCLUSTER" up "$1" "$VC"
    if [ "$status" -eq 77 ]; then
        skip "no virtual cluster here: $output"
    fi
    [ "$status" -eq 0 ] || fail "vcluster up failed: $output"
    # shellcheck disable=SC1091
    source "$VC/vcluster.env"
    export SSH_AUTH_SOCK VC VCLUSTER_SSH_PORT
}

# Act as node I from now on (its state root and name).
on_node() {
    export QGANETI_ROOT=$VC/node$1 QGANETI_HOSTNAME=node$1.example.com
}

# Run a command as node I, without changing this shell's node.
as_node() {
    local i=$1
    shift
    QGANETI_ROOT=$VC/node$i QGANETI_HOSTNAME=node$i.example.com "$@"
}

# gnt-cluster init on node1 of the virtual cluster (arguments go to init).
vc_init() {
    on_node 1
    run gnt-cluster init --enabled-hypervisors=fake \
        --enabled-disk-templates=diskless,file,sharedfile \
        --shared-file-storage-dir="$VC/shared" \
        --node-parameters "ssh_port=$VCLUSTER_SSH_PORT" "$@" cluster.example.com
    [ "$status" -eq 0 ] || fail "gnt-cluster init failed: $output"
}

# A cluster on node1 with nodes 2..N added (N given to vc_up); extra
# arguments go to gnt-cluster init.
vc_cluster() {
    local n=$1 i
    shift
    vc_up "$n"
    vc_init "$@"
    for i in $(seq 2 "$n"); do
        run gnt-node add "node$i.example.com"
        [ "$status" -eq 0 ] || fail "gnt-node add node$i failed: $output"
    done
}

# Stop every process of the virtual cluster (teardown; also after failures).
vc_down() {
    [ -n "${VC:-}" ] || return 0
    "$VCLUSTER" down "$VC"
}

# The serial_no of node I's config.data (-1 if it has none).
config_serial() {
    "$PYTHON" -c 'import json,sys
try:
    print(json.load(open(sys.argv[1]))["serial_no"])
except OSError:
    print(-1)' "$VC/node$1/var/lib/qganeti/config.data"
}

# Processes whose command line mentions the cluster's directory.
vc_processes() {
    local pid
    for pid in $(pgrep -f "$VC" 2>/dev/null); do
        [ "$pid" = "$$" ] || echo "$pid $(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)"
    done
}

# an instance on node<NODE> of the virtual cluster; the test fails with the reason if not
add_instance() {   # NAME TEMPLATE NODE [more gnt-instance add options]
    local name=$1 template=$2 node=$3
    shift 3
    local size=()
    [ "$template" = diskless ] || size=(-s 1G)
    run gnt-instance add -t "$template" "${size[@]}" -o noop -n "$node.example.com" \
        --no-name-check --no-ip-check "$@" "$name"
    [ "$status" -eq 0 ] || fail "gnt-instance add $name failed: $output"
}
