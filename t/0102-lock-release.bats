#!/usr/bin/env bats
# lock-release: free what a stuck owner holds, or what dead owners held.

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

start() {
    "$LIBEXEC/lock-grant" "$@" >/dev/null 2>&1 3>&- &
    bg+=($!)
    disown $!
}

listed() {
    "$LIBEXEC/lock-list" --no-headers --separator '|' | grep -q "$1"
}

@test "lock-release --help prints usage and exits 0" {
    run "$LIBEXEC/lock-release" --help
    assert_success
    assert_output --partial "Usage: lock-release"
}

@test "lock-release --owner frees what a live owner holds" {
    start --owner stuck --shared cluster/BGL -- "$LIBEXEC/lock-grant" --owner stuck instance/web1 -- sleep 60
    wait_for listed '^instance/web1|exclusive|stuck|'
    run "$LIBEXEC/lock-grant" instance/web1 -- true
    assert_failure 1
    run "$LIBEXEC/lock-release" --owner stuck
    assert_success
    assert_output - <<'OUT'
cluster/BGL
instance/web1
OUT
    run "$LIBEXEC/lock-grant" instance/web1 -- echo mine now
    assert_success
    assert_output "mine now"
}

@test "lock-release --owner takes job ids and object names" {
    mkdir -p "$QGANETI_ROOT/var/lib/qganeti"
    cp "$TESTDATA/ganeti-samples/state/config.data.pretty.json" "$QGANETI_ROOT/var/lib/qganeti/config.data"
    start --owner 17 node/node1.example.com -- sleep 60
    wait_for listed '^node/node1.example.com|exclusive|17|'
    run "$LIBEXEC/lock-release" --owner=17
    assert_success
    assert_output "node/node1.example.com"
}

@test "lock-release --owner of nobody exits 1" {
    run "$LIBEXEC/lock-release" --owner nobody
    assert_failure 1
    assert_output "lock-release: fatal: unable to release locks of nobody: no such owner"
}

@test "lock-release --dead frees what dead owners held" {
    start --owner doomed node/n1 -- sleep 60
    start --owner alive node/n2 -- sleep 60
    wait_for listed '^node/n1|exclusive|doomed|'
    wait_for listed '^node/n2|exclusive|alive|'
    kill -9 "${bg[0]}"
    run "$LIBEXEC/lock-release" --dead
    assert_success
    assert_output "doomed"
    run "$LIBEXEC/lock-list" --no-headers --separator '|'
    assert_output - <<'OUT'
node/[lockset]|-|-|-
node/n2|exclusive|alive|-
OUT
}

@test "lock-release usage errors exit 100" {
    for args in "" "--owner" "--owner a b" "--dead --owner a" "--bogus"; do
        run "$LIBEXEC/lock-release" $args
        [ "$status" -eq 100 ] || fail "lock-release $args: exit $status: $output"
    done
}
