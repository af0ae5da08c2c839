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
