#!/usr/bin/env bats
# config-write: one change to config.data from argv or stdin.

load lib/common

setup() {
    new_root
    DATA="$QGANETI_ROOT/var/lib/qganeti"
    mkdir -p "$DATA"
    cp "$TESTDATA/ganeti-samples/state/config.data.pretty.json" "$DATA/config.data"
    CW="$LIBEXEC/config-write"
}

# value at a JSON Pointer-ish python expression of the stored config
cfg() {
    "$REPO/.venv/bin/python3" -c 'import json,sys; c=json.load(open(sys.argv[1])); print(json.dumps(eval(sys.argv[2])))' "$DATA/config.data" "$1"
}

@test "config-write --help prints usage and exits 0" {
    run "$CW" --help
    assert_success
    assert_line --index 1 --partial "Usage: config-write"
}

@test "config-write without arguments is a usage error (100)" {
    run "$CW"
    assert_failure 100
    assert_output --partial "config-write: usage: config-write [-c CONFIG] OP PATH [VALUE]"
}

@test "config-write with an unknown op names the problem" {
    run "$CW" frobnicate /cluster/tags x
    assert_failure 100
    assert_line --index 0 "config-write: usage: unknown or missing OP"
}

@test "config-write set prints the new serial_no and changes the value" {
    run "$CW" set /cluster/max_running_jobs 30
    assert_success
    assert_output "102"
    run cfg 'c["cluster"]["max_running_jobs"], c["serial_no"], c["cluster"]["serial_no"]'
    assert_output "[30, 102, 6]"
}

@test "config-write takes a word that is not JSON as a string and updates ssconf" {
    run "$CW" set /cluster/master_netdev eth9
    assert_success
    run cat "$DATA/ssconf_master_netdev"
    assert_output "eth9"
}

@test "config-write refuses a value of the wrong type (100)" {
    run "$CW" set /cluster/max_running_jobs many
    assert_failure 100
    assert_output "config-write: fatal: unable to commit change: cluster: 'max_running_jobs' must be an integer, not \"many\""
    run cfg 'c["serial_no"]'
    assert_output "101"
}

@test "config-write exits 1 when a test fails" {
    run "$CW" test /cluster/max_running_jobs 99
    assert_failure 1
    assert_output --partial "Configuration changed: /cluster/max_running_jobs is 20, expected 99"
}

@test "config-write - applies a JSON list of ops from stdin as one change" {
    run bash -c "echo '[{\"op\": \"append\", \"path\": \"/cluster/tags\", \"value\": \"a\"}, {\"op\": \"append\", \"path\": \"/cluster/tags\", \"value\": \"b\"}]' | '$CW' -"
    assert_success
    assert_output "102"
    run cfg 'c["cluster"]["tags"]'
    assert_output '["a", "b"]'
}

@test "config-write - refuses stdin that is not a list" {
    run bash -c "echo '{\"op\": \"add\"}' | '$CW' -"
    assert_failure 100
    assert_output --partial "stdin must hold a JSON list of ops"
}

@test "config-write add of an existing object and remove of a missing one fail" {
    node=$(cfg 'sorted(c["nodes"])[0]' | tr -d '"')
    run "$CW" add "/nodes/$node" '{}'
    assert_failure 100
    assert_output --partial "already in use"
    run "$CW" remove /instances/no-such-uuid
    assert_failure 100
    assert_output "config-write: fatal: unable to commit change: Unknown instance 'no-such-uuid'"
}

@test "config-write -c names another config file" {
    mv "$DATA/config.data" "$BATS_TEST_TMPDIR/other.data"
    run "$CW" -c "$BATS_TEST_TMPDIR/other.data" append /cluster/tags x
    assert_success
    assert_output "102"
    run "$CW" append /cluster/tags x
    assert_failure 100
    assert_output --partial "Cannot read configuration file $DATA/config.data"
}

@test "config-write writes every ssconf file when none exist yet" {
    run "$CW" set /cluster/max_running_jobs 21
    assert_success
    run cat "$DATA/ssconf_cluster_name" "$DATA/ssconf_master_node"
    assert_output "cluster.example.com
node1.example.com"
}
