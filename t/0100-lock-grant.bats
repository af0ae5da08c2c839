#!/usr/bin/env bats
# lock-grant: take locks, run a program holding them, free them when it ends.

load lib/common

setup() {
    new_root
    GRANT=$LIBEXEC/lock-grant
    bg=()
}

teardown() {
    for pid in "${bg[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
}

# wait_for COMMAND...: retry for up to 10 s (a liveness bound, not a timing)
wait_for() {
    local i
    for i in $(seq 1 200); do "$@" && return 0; sleep 0.05; done
    return 1
}

# hold OWNER LOCK...: a background lock-grant holding LOCKs until $BATS_TEST_TMPDIR/go-OWNER appears
hold() {
    local owner=$1; shift
    "$GRANT" --owner "$owner" "$@" -- sh -c 'touch "$0.ready"; while [ ! -e "$0" ]; do sleep 0.05; done' \
        "$BATS_TEST_TMPDIR/go-$owner" >/dev/null 2>&1 3>&- &
    bg+=($!)
    disown $!
    wait_for test -e "$BATS_TEST_TMPDIR/go-$owner.ready"
}

pending() {
    "$LIBEXEC/lock-list" --no-headers --separator '|' | grep -q "|$1\$"
}

@test "lock-grant --help prints usage and exits 0" {
    run "$GRANT" --help
    assert_success
    assert_output --partial "Usage: lock-grant"
}

@test "lock-grant runs the program holding the lock; a second one without --wait is refused" {
    hold first node/node1.example.com
    run "$GRANT" node/node1.example.com -- echo never
    assert_failure 1
    assert_output "lock-grant: fatal: unable to acquire node/node1.example.com: busy (blocked by first)"
    run "$GRANT" node/node2.example.com -- echo other lock
    assert_success
    assert_output "other lock"
}

@test "lock-grant execs the program: its output, its exit status, the locks it got" {
    run "$GRANT" --owner me instance/web1 cluster/BGL -- sh -c 'echo "$QGANETI_LOCK_OWNER: $QGANETI_LOCKS"; exit 7'
    assert_failure 7
    assert_output "me: cluster/BGL instance/web1"
}

@test "the locks are free again once the program has ended" {
    run "$GRANT" instance/web1 -- true
    assert_success
    run "$GRANT" instance/web1 -- true
    assert_success
}

@test "lock-grant --wait runs the program once the holder is done" {
    hold first instance/web1
    "$GRANT" --wait instance/web1 -- sh -c 'echo second > "$0"' "$BATS_TEST_TMPDIR/order" 3>&- &
    waiter=$!
    bg+=($waiter)
    wait_for pending "exclusive:lock-grant-$waiter"
    [ ! -e "$BATS_TEST_TMPDIR/order" ]
    touch "$BATS_TEST_TMPDIR/go-first"
    wait "$waiter"
    [ "$(cat "$BATS_TEST_TMPDIR/order")" = second ]
}

@test "lock-grant --wait --timeout gives up with exit 1 and leaves no request behind" {
    hold first instance/web1
    run "$GRANT" --wait --timeout 0.2 instance/web1 -- echo never
    assert_failure 1
    assert_output "lock-grant: fatal: unable to acquire instance/web1: timed out after 0.2 seconds (blocked by first)"
    run "$LIBEXEC/lock-list" --no-headers
    refute_output --partial "exclusive:"
}

@test "kill -9 of a holder: its locks are freed and the waiter proceeds" {
    "$GRANT" --owner 42 node/n1 -- sleep 60 >/dev/null 2>&1 3>&- &
    holder=$!
    bg+=($holder)
    disown $holder
    wait_for sh -c "'$LIBEXEC/lock-list' --separator '|' | grep -q '^node/n1|exclusive|42|'"
    "$GRANT" --wait --timeout 2 node/n1 -- true 3>&- &
    waiter=$!
    wait_for pending "exclusive:lock-grant-$waiter"
    kill -9 "$holder"
    wait "$waiter"
}

@test "shared locks coexist; an exclusive request is refused meanwhile" {
    hold one --shared cluster/BGL
    run "$GRANT" --shared cluster/BGL -- echo shared too
    assert_success
    assert_output "shared too"
    run "$GRANT" cluster/BGL -- echo never
    assert_failure 1
    run "$GRANT" cluster/[lockset] -- echo never
    assert_failure 1
}

@test "lock-grant --at-least N takes the free ones if there are N" {
    hold first node/b
    run "$GRANT" --at-least 1 node/a node/b node/c -- sh -c 'echo "$QGANETI_LOCKS"'
    assert_success
    assert_output "node/a node/c"
    run "$GRANT" --at-least 3 node/a node/b node/c -- echo never
    assert_failure 1
}

@test "lock-grant translates object names through config.data" {
    mkdir -p "$QGANETI_ROOT/var/lib/qganeti"
    cp "$TESTDATA/ganeti-samples/state/config.data.pretty.json" "$QGANETI_ROOT/var/lib/qganeti/config.data"
    run "$GRANT" node/node1.example.com nodegroup/default -- "$LIBEXEC/lock-list" --internal --no-headers
    assert_success
    assert_line --index 0 --regexp '^node/408d634e-1a37-4c3c-a06d-2780d2d7d54d +exclusive +lock-grant-'
    assert_line --index 3 --regexp '^nodegroup/b1c4b011-4b2a-4900-bc29-5498a17bf015 +exclusive +lock-grant-'
}

@test "lock-grant usage errors exit 100" {
    for args in "node/a" "-- true" "node/a --" "disk/a -- true" "cluster/other -- true" \
                "--timeout x node/a -- true" "--at-least 2 node/a -- true" "--bogus node/a -- true" \
                "--owner a/b node/a -- true" "--priority 99 node/a -- true"; do
        run "$GRANT" $args
        [ "$status" -eq 100 ] || fail "lock-grant $args: exit $status: $output"
        [[ "$output" == "lock-grant: usage: "* ]] || fail "lock-grant $args: $output"
    done
}

@test "lock-grant cannot run the program: exit 111, and the lock is free" {
    run "$GRANT" instance/web1 -- "$BATS_TEST_TMPDIR/no-such-program"
    assert_failure 111
    assert_output "lock-grant: fatal: unable to run $BATS_TEST_TMPDIR/no-such-program: No such file or directory"
    run "$GRANT" instance/web1 -- true
    assert_success
}

@test "the lock manager's man pages render cleanly" {
    for name in lock-grant lock-list lock-release; do
        run groff -man -Tutf8 -ww -z "$REPO/man/$name.8"
        [ "$status" -eq 0 ] && [ -z "$output" ] || fail "$name.8: $output"
    done
}
