# Shared set-up for the bats tests: load the helper libraries, put the
# checkout's commands first on PATH, and give each test its own state root.

load /usr/lib/bats/bats-support/load.bash
load /usr/lib/bats/bats-assert/load.bash

REPO=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
LIBEXEC=$REPO/libexec/qganeti
TESTDATA=$REPO/t/data
export PATH="$REPO/bin:$PATH"

# A fresh, empty state root for this test; QGANETI_ROOT points at it.
new_root() {
    export QGANETI_ROOT="$BATS_TEST_TMPDIR/root"
    export QGANETI_HOSTNAME=${QGANETI_HOSTNAME:-node1.example.com}
    mkdir -p "$QGANETI_ROOT"
}

# A one-node cluster (fake hypervisor) in a fresh root; its luxid runs.
init_cluster() {
    new_root
    run gnt-cluster init --enabled-hypervisors=fake \
        --enabled-disk-templates=diskless,file,sharedfile \
        --shared-file-storage-dir="$QGANETI_ROOT/shared" "$@" cluster.example.com
    [ "$status" -eq 0 ] || fail "gnt-cluster init failed: $output"
}

# Tear a test cluster down: daemons and job processes stop, state goes.
destroy_cluster() {
    [ -n "${QGANETI_ROOT:-}" ] && [ "$QGANETI_ROOT" != / ] || return 0
    # running jobs would hold the Big Ganeti Lock that destroy needs
    for jid in $(gnt-job list --no-headers -o id --running 2>/dev/null); do
        gnt-job cancel --kill --yes-do-it "$jid" >/dev/null 2>&1 || true
    done
    gnt-cluster destroy --yes-do-it >/dev/null 2>&1 || true
    "$LIBEXEC/daemon-util" stop-all >/dev/null 2>&1 || true
}

# The venv's python, for LUXI conversations in tests.
PYTHON=$REPO/.venv/bin/python3

# Send raw bytes (given as a Python bytes literal) to luxid; print the reply.
luxi_raw() {
    "$PYTHON" - "$1" <<'PYEOF'
import ast, os, socket, sys
data = ast.literal_eval(sys.argv[1])
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(10)
sock.connect(os.path.join(os.environ["QGANETI_ROOT"], "var/run/qganeti/socket/ganeti-query"))
sock.sendall(data)
reply = b""
while not reply.endswith(b"\x03"):
    chunk = sock.recv(65536)
    if not chunk:
        break
    reply += chunk
print(reply.rstrip(b"\x03").decode())
PYEOF
}

# Wait up to $2 seconds (default 10) until command $1 succeeds.
wait_until() {
    local deadline=$((SECONDS + ${2:-10}))
    until eval "$1"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

job_status() {
    gnt-job list --no-headers -o status "$1"
}
