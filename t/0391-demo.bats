#!/usr/bin/env bats
# make demo (t/lib/demo DIR): works on a fresh directory and again after it.

load lib/common

teardown() {
    export QGANETI_ROOT="$BATS_TEST_TMPDIR/demo" QGANETI_HOSTNAME=node1.example.com
    destroy_cluster
}

@test "the demo runs twice in a row; the second run replaces the first cluster" {
    run "$REPO/t/lib/demo" "$BATS_TEST_TMPDIR/demo"
    assert_success
    assert_output --regexp $'\nweb1\.example\.com +running +node1\.example\.com +128M +file +1024 +before-upgrade\n'
    assert_output --regexp $'\ndb1\.example\.com +running +node1\.example\.com +256M +sharedfile +1024,2048 +nightly\n'
    pid1=$(cat "$BATS_TEST_TMPDIR/demo/var/run/qganeti/luxid.pid")
    uuid1=$(grep -o '"uuid":"[^"]*"' "$BATS_TEST_TMPDIR/demo/var/lib/qganeti/config.data" | head -n 1)
    run "$REPO/t/lib/demo" "$BATS_TEST_TMPDIR/demo"
    assert_success
    assert_line "demo: replacing the demo cluster in $BATS_TEST_TMPDIR/demo"
    assert_output --regexp $'\nspare1\.example\.com +ADMIN_down '
    refute_output --partial Failure
    uuid2=$(grep -o '"uuid":"[^"]*"' "$BATS_TEST_TMPDIR/demo/var/lib/qganeti/config.data" | head -n 1)
    [ "$uuid1" != "$uuid2" ]
    # the first cluster's luxid is gone, a new one serves
    ! kill -0 "$pid1" 2>/dev/null
    [ "$(cat "$BATS_TEST_TMPDIR/demo/var/run/qganeti/luxid.pid")" != "$pid1" ]
    run env QGANETI_ROOT="$BATS_TEST_TMPDIR/demo" gnt-instance list --no-headers -o name
    assert_output $'db1.example.com\nspare1.example.com\nweb1.example.com'
}
