#!/usr/bin/env bats
# lock-list: the lock monitor at the command line.

load lib/common

setup() {
    new_root
    bg=()
}

teardown() {
    for pid in "${bg[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
}

wait_for() {
    local i
    for i in $(seq 1 200); do "$@" && return 0; sleep 0.05; done
    return 1
}

# start PID-VAR lock-grant args...: a background lock-grant, its pid appended to bg
start() {
    "$LIBEXEC/lock-grant" "$@" >/dev/null 2>&1 3>&- &
    bg+=($!)
    disown $!
}

listed() {
    "$LIBEXEC/lock-list" --no-headers --separator '|' | grep -q "$1"
}

@test "lock-list --help prints usage and exits 0" {
    run "$LIBEXEC/lock-list" --help
    assert_success
    assert_output --partial "Usage: lock-list"
}

@test "lock-list with no locks prints the header only" {
    run "$LIBEXEC/lock-list"
    assert_success
    assert_output "Name Mode Owner Pending"
}

@test "lock-list shows what Ganeti's gnt-debug locks showed for the same jobs" {
    # two TEST_DELAY jobs, as in t/data/ganeti-samples/state/livelocks-during-jobs.txt:
    # 1219 holds the BGL shared and the node; 1220 holds the BGL shared and waits for the node
    mkdir -p "$QGANETI_ROOT/var/lib/qganeti"
    cp "$TESTDATA/ganeti-samples/state/config.data.pretty.json" "$QGANETI_ROOT/var/lib/qganeti/config.data"
    grant=$LIBEXEC/lock-grant
    start --owner 1219 --shared cluster/BGL -- "$grant" --owner 1219 node/node1.example.com -- sleep 60
    wait_for listed '^node/node1.example.com|exclusive|1219|'
    start --owner 1220 --shared cluster/BGL -- "$grant" --owner 1220 --wait node/node1.example.com -- sleep 60
    wait_for listed '|exclusive:1220$'
    expected=$(sed -n '/^## gnt-debug locks/,/^##/{/^##/d;p}' \
        "$TESTDATA/ganeti-samples/state/livelocks-during-jobs.txt")
    run "$LIBEXEC/lock-list" --internal
    assert_success
    assert_output "$expected"
    run "$LIBEXEC/lock-list" --no-headers --separator '|'
    assert_output - <<'OUT'
cluster/BGL|shared|1219,1220|-
cluster/[lockset]|-|-|-
node/node1.example.com|exclusive|1219|exclusive:1220
node/[lockset]|-|-|-
OUT
}

@test "lock-list shows waiters in the order they will be served" {
    start --owner holder instance/web1 -- sleep 60
    wait_for listed '^instance/web1|exclusive|holder|-$'
    start --owner late --wait --shared instance/web1 -- true
    wait_for listed 'shared:late$'
    start --owner urgent --priority -10 --wait instance/web1 -- true
    wait_for listed 'exclusive:urgent, shared:late$'
}

@test "lock-list frees the locks of owners that died" {
    start --owner doomed node/n1 -- sleep 60
    wait_for listed '^node/n1|exclusive|doomed|'
    kill -9 "${bg[0]}"
    run "$LIBEXEC/lock-list" --no-headers
    assert_success
    assert_output ""
}

@test "lock-list usage errors exit 100" {
    run "$LIBEXEC/lock-list" --bogus
    assert_failure 100
    assert_output --partial "lock-list: usage: "
    run "$LIBEXEC/lock-list" --separator
    assert_failure 100
}
