#!/usr/bin/env bats
# cfgupgrade: Ganeti 2.x config.data to 3.0 (and 3.0 to 2.16).

load lib/common

setup() {
    new_root
    DATA="$QGANETI_ROOT/var/lib/qganeti"
    CONF="$QGANETI_ROOT/etc/qganeti"
    mkdir -p "$DATA" "$CONF"
    touch "$DATA/server.pem" "$DATA/known_hosts"
    echo "$QGANETI_HOSTNAME" > "$DATA/ssconf_master_node"
}

loads() {
    "$REPO/.venv/bin/python3" -c 'import sys; sys.path.insert(0, sys.argv[1]); from qganeti import config; c = config.load(sys.argv[2]); print(c["version"], len(c["instances"]))' "$REPO/lib" "$DATA/config.data"
}

@test "cfgupgrade --help prints usage and exits 0" {
    run cfgupgrade --help
    assert_success
    assert_line --index 0 "Usage: cfgupgrade [--debug|--verbose] [--force]"
}

@test "cfgupgrade upgrades every real 2.x config.data to one that loads" {
    for f in "$TESTDATA"/ganeti/configs/cluster_config_2.*.json; do
        cp "$f" "$DATA/config.data"
        run cfgupgrade -f
        assert_success
        assert_output --partial "Configuration successfully upgraded to version 3.0.2."
        run loads
        assert_success
        assert_output --regexp "^3000000 [0-9]+$"
    done
}

@test "cfgupgrade keeps a backup and leaves a 3.0 config alone" {
    cp "$TESTDATA/ganeti/configs/cluster_config_2.16.json" "$DATA/config.data"
    run cfgupgrade -f
    assert_success
    run bash -c "ls '$DATA' | grep -c '^config.data.backup-'"
    assert_output "1"
    cp "$DATA/config.data" "$BATS_TEST_TMPDIR/after"
    run cfgupgrade -f -v
    assert_success
    assert_output --partial "No changes necessary"
    run cmp "$DATA/config.data" "$BATS_TEST_TMPDIR/after"
    assert_success
}

@test "cfgupgrade --dry-run writes nothing" {
    cp "$TESTDATA/ganeti/configs/cluster_config_2.9.json" "$DATA/config.data"
    run cfgupgrade -f --dry-run
    assert_success
    run cmp "$DATA/config.data" "$TESTDATA/ganeti/configs/cluster_config_2.9.json"
    assert_success
    [ ! -e "$CONF/file-storage-paths" ]
}

@test "cfgupgrade writes file-storage-paths from the configuration" {
    cp "$TESTDATA/ganeti/configs/cluster_config_2.16.json" "$DATA/config.data"
    run cfgupgrade -f
    assert_success
    # the fixture has no file_storage_dir, only a shared one
    run grep -v '^#' "$CONF/file-storage-paths"
    assert_output "/srv/ganeti/shared-file-storage"
}

@test "cfgupgrade refuses to run on another node than the master" {
    cp "$TESTDATA/ganeti/configs/cluster_config_2.16.json" "$DATA/config.data"
    echo other.example.com > "$DATA/ssconf_master_node"
    run cfgupgrade -f
    assert_failure 1
    assert_output --partial "Aborting due to hostname mismatch"
    run cfgupgrade -f --ignore-hostname
    assert_success
}

@test "cfgupgrade needs a Ganeti configuration directory" {
    cp "$TESTDATA/ganeti/configs/cluster_config_2.16.json" "$DATA/config.data"
    rm "$DATA/server.pem"
    run cfgupgrade -f
    assert_failure 1
    assert_output "cfgupgrade: $DATA does not seem to be a Ganeti configuration directory"
}

@test "cfgupgrade refuses versions it does not know" {
    echo '{"version": 1020000, "cluster": {}}' > "$DATA/config.data"
    run cfgupgrade -f
    assert_failure 1
    assert_output "cfgupgrade: Configuration version 1.2.0 not supported by this tool"
}

@test "cfgupgrade without --force and without a terminal does nothing" {
    cp "$TESTDATA/ganeti/configs/cluster_config_2.16.json" "$DATA/config.data"
    run setsid cfgupgrade < /dev/null
    assert_failure 1
    run cmp "$DATA/config.data" "$TESTDATA/ganeti/configs/cluster_config_2.16.json"
    assert_success
}

@test "cfgupgrade --downgrade needs DSA keys" {
    cp "$TESTDATA/ganeti-samples/state/config.data.pretty.json" "$DATA/config.data"
    run cfgupgrade -f --downgrade
    assert_failure 1
    assert_output --partial "non-DSA SSH keys"
    cp "$TESTDATA/ganeti/configs/cluster_config_2.16.json" "$DATA/config.data"
    run cfgupgrade -f
    run cfgupgrade -f --downgrade
    assert_success
    assert_output "Configuration successfully downgraded to version 2.16."
}
