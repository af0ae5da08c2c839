#!/usr/bin/env bats
# The htools read a live one-node cluster through LUXI (-L): hscan saves
# it in the text format, and every tool reports the same over -L as over
# -t of that file; Debian's Ganeti tools read our luxid the same way.

load lib/common

teardown() {
    destroy_cluster
}

add() {
    gnt-instance add --no-name-check --no-ip-check -o noop "$@"
}

setup_instances() {
    init_cluster
    run add -t file --disk 0:size=1G -B memory=256,vcpus=2 --tags web web1
    assert_success
    run add -t diskless -B memory=128 web2
    assert_success
    SOCKET=$QGANETI_ROOT/var/run/qganeti/socket/ganeti-query
    OUT=$BATS_TEST_TMPDIR/scan
    mkdir -p "$OUT"
}

@test "hscan saves the local cluster (LUXI) in the text format" {
    setup_instances
    run hscan -d "$OUT"
    assert_success
    assert_line --index 0 --regexp '^Name +Nodes +Inst +BNode +BInst +t_mem +f_mem +t_disk +f_disk +Score$'
    assert_line --index 1 --regexp '^LOCAL +1 +2 +0 +0 '
    run cat "$OUT/LOCAL.data"
    assert_line --regexp '^node1\.example\.com\|[0-9]+\|[0-9]+\|[0-9]+\|[0-9]+\|[0-9]+\|[0-9]+\|M\|'
    assert_line --regexp '^web1\|256\|1024\|2\|running\|Y\|node1\.example\.com\|\|file\|web\|'
    assert_line --regexp '^web2\|128\|0\|1\|running\|Y\|node1\.example\.com\|\|diskless\|'
}

@test "hinfo, hcheck, hspace and hbal print the same over -L as over -t of hscan's file" {
    setup_instances
    run hscan -d "$OUT"
    assert_success
    for tool in "hinfo -v -v -v" "hcheck --machine-readable" "hspace --machine-readable" \
                "hbal -v -v"; do
        live=$($tool -L 2>&1; echo "exit $?")
        saved=$($tool -t "$OUT/LOCAL.data" 2>&1; echo "exit $?")
        [ "$live" = "$saved" ] || fail "$tool differs: $live --- $saved"
    done
}

@test "-L with a socket path; Ganeti's own tools read our luxid the same" {
    setup_instances
    run hinfo -L"$SOCKET"
    assert_success
    assert_line "Loaded 1 node, 2 instances, 1 node group"
    [ -x /usr/bin/hinfo ] || skip "Debian's ganeti-htools is not installed"
    for tool in hinfo hspace; do
        ours=$($tool -L"$SOCKET" 2>&1; echo "exit $?")
        theirs=$(/usr/bin/$tool -L"$SOCKET" 2>&1; echo "exit $?")
        [ "$ours" = "$theirs" ] || fail "$tool differs: $ours --- $theirs"
    done
}

@test "-L without a running luxid: Ganeti's message, exit 1, no traceback" {
    new_root
    run hbal -L
    assert_failure 1
    assert_output "Error: failed to load data, aborting: Network.Socket.connect: <socket: 3>: does not exist (No such file or directory)"
    run hscan -d "$BATS_TEST_TMPDIR"
    assert_failure 1
    refute_output --partial Traceback
}
