#!/usr/bin/env bats
# make install PREFIX=... DESTDIR=...: the installed tree works on its own,
# wherever it lies (programs find lib/ and the venv relative to themselves).

load lib/common

setup_file() {
    export DEST="$BATS_FILE_TMPDIR/dest"
    make -C "$REPO" --no-print-directory install PREFIX=/usr/local DESTDIR="$DEST" \
        >"$BATS_FILE_TMPDIR/install.log" 2>&1 || {
        cat "$BATS_FILE_TMPDIR/install.log" >&3; return 1; }
}

teardown() {
    [ -n "${QGANETI_ROOT:-}" ] || return 0
    "$DEST/usr/local/bin/gnt-cluster" destroy --yes-do-it >/dev/null 2>&1 || true
    "$DEST/usr/local/libexec/qganeti/daemon-util" stop-all >/dev/null 2>&1 || true
}

@test "install puts programs, library, settings, OS definitions and man pages under PREFIX" {
    P=$DEST/usr/local
    for f in bin/gnt-cluster bin/gnt-instance libexec/qganeti/daemons/luxid \
             libexec/qganeti/op/instance-create libexec/qganeti/node/disk-create \
             libexec/qganeti/daemon-util os/noop/create os/image/create; do
        [ -x "$P/$f" ] || fail "$f is not installed executable"
    done
    [ -f "$P/lib/qganeti/config.py" ] && [ ! -x "$P/lib/qganeti/config.py" ]
    [ -f "$P/etc/qganeti.yaml" ]
    [ -f "$P/share/man/man8/gnt-instance.8" ] && [ -f "$P/share/man/man8/daemon-util.8" ]
    # compiled at install time, since the installed tree may be read-only
    ls "$P"/lib/qganeti/__pycache__/config.*.pyc
    run head -n 2 "$P/libexec/qganeti/op/test-delay"
    assert_line --index 1 --partial '"${0%/*}/../../../lib/qganeti-venv/bin/python3"'
    # the htools kernels built by make come along, and the installed htools take them
    ls "$P"/lib/qganeti/htools/_kernels_aot*.so
    run "$P/lib/qganeti-venv/bin/python3" -c '
import sys; sys.path.insert(0, sys.argv[1])
from qganeti.htools import jit
print(jit.aot_built(), jit.compiled_kernels().__name__)' "$P/lib"
    assert_output "True qganeti.htools._kernels_built"
}

@test "the installed commands run a cluster without the checkout" {
    P=$DEST/usr/local
    export QGANETI_ROOT="$BATS_TEST_TMPDIR/root" QGANETI_HOSTNAME=node1.example.com
    mkdir -p "$QGANETI_ROOT"
    cd /
    # not the checkout's commands: PATH has only the system's
    PATH=/usr/sbin:/usr/bin:/sbin:/bin
    run "$P/bin/gnt-cluster" init --enabled-hypervisors=fake \
        --enabled-disk-templates=diskless,file cluster.example.com
    assert_success
    run ps -eo args
    assert_output --partial "$P/libexec/qganeti/daemons/luxid"
    run "$P/bin/gnt-instance" add -t file -s 1G -o noop --no-name-check --no-ip-check web1
    assert_success
    run "$P/bin/gnt-instance" list --no-headers -o name,status,os
    assert_output --regexp '^web1 +running +noop$'
    run "$P/bin/gnt-job" list --no-headers -o status
    refute_output --partial error
    run "$P/bin/gnt-os" diagnose
    assert_output --partial "(path: $P/os/noop)"
    run "$P/bin/gnt-instance" remove -f web1
    assert_success
    run "$P/bin/gnt-cluster" destroy --yes-do-it
    assert_success
    [ ! -e "$QGANETI_ROOT/var/lib/qganeti/config.data" ]
}
