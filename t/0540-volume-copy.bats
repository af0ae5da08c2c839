#!/usr/bin/env bats
# libexec/qganeti/volume-copy by hand: TLS or keyed frames, holes, checksums,
# tampering, bad input.

load lib/common

VCOPY=$LIBEXEC/volume-copy

teardown() {   # a receiver or proxy left by a failed test
    for pid in ${RXPID:-} ${PROXYPID:-} ${TXPID:-}; do
        kill "$pid" 2>/dev/null || true
    done
}

setup() {
    new_root
    "$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); from qganeti import tlscert; tlscert.ensure()' "$REPO/lib"
    SRC=$BATS_TEST_TMPDIR/src.img
    DST=$BATS_TEST_TMPDIR/dst.img
    truncate -s 64M "$SRC"
    dd if=/dev/urandom of="$SRC" bs=1M count=3 seek=10 conv=notrunc status=none
    dd if=/dev/urandom of="$SRC" bs=1M count=1 seek=60 conv=notrunc status=none
    KEY='{"key": "00112233445566778899aabbccddeeff"}'
}

# start a receiver (extra options in "$@"); its port in $PORT, output in $BATS_TEST_TMPDIR/rx
receiver() {
    rm -f "$BATS_TEST_TMPDIR/rx" "$BATS_TEST_TMPDIR/rx.err"
    echo "${RXKEY-$KEY}" | "$VCOPY" receive --bind 127.0.0.1 --timeout 20 "$@" "$DST" \
        > "$BATS_TEST_TMPDIR/rx" 2> "$BATS_TEST_TMPDIR/rx.err" 3>&- &
    RXPID=$!
    wait_until '[ -s "$BATS_TEST_TMPDIR/rx" ]' 20
    PORT=$(head -n 1 "$BATS_TEST_TMPDIR/rx" | tr -dc 0-9)
}

@test "a copy over TLS with a transfer key: same bytes, holes not sent, summaries agree" {
    receiver
    run bash -c "echo '$KEY' | '$VCOPY' send 127.0.0.1 $PORT '$SRC'"
    assert_success
    assert_output --partial '"sent": 4194304'
    wait "$RXPID"
    cmp "$SRC" "$DST"
    [ "$(du -k "$DST" | cut -f1)" -lt 8192 ]
    sent=$(sed -n 's/.*"sha256": "\([0-9a-f]*\)".*/\1/p' <<< "$output")
    grep -q "\"sha256\": \"$sent\"" "$BATS_TEST_TMPDIR/rx"
    grep -q "progress: 64 of 64 MiB (100%)" "$BATS_TEST_TMPDIR/rx.err"
}

@test "compression and keyed frames without TLS give the same copy" {
    receiver --no-tls
    run bash -c "echo '$KEY' | '$VCOPY' send --no-tls --compress gzip 127.0.0.1 $PORT '$SRC'"
    assert_success
    wait "$RXPID"
    cmp "$SRC" "$DST"
}

@test "a tampered stream is detected and the target is left as it was" {
    for mode in tls no-tls; do
        echo "old content" > "$DST"
        opts=()
        [ "$mode" = no-tls ] && opts=(--no-tls)
        receiver "${opts[@]}"
        # a proxy that flips one bit in the middle of the stream
        rm -f "$BATS_TEST_TMPDIR/proxy"
        "$PYTHON" "$REPO/t/lib/tcp_proxy.py" "$PORT" flip 2000000 \
            > "$BATS_TEST_TMPDIR/proxy" 2>/dev/null 3>&- &
        PROXYPID=$!
        wait_until '[ -s "$BATS_TEST_TMPDIR/proxy" ]' 10
        run bash -c "echo '$KEY' | '$VCOPY' send ${opts[*]} 127.0.0.1 $(cat "$BATS_TEST_TMPDIR/proxy") '$SRC'"
        assert_failure 111
        rc=0
        wait "$RXPID" || rc=$?
        [ "$rc" -eq 111 ]
        grep -Eq "volume-copy: fatal: unable to receive .*(corrupted|authentication)" "$BATS_TEST_TMPDIR/rx.err"
        run cat "$DST"
        assert_output "old content"
        [ -z "$(ls -A "$BATS_TEST_TMPDIR" | grep volume-copy)" ]
        wait "$PROXYPID" || true
    done
}

@test "a transfer killed mid-way is resumed: only what is missing is sent, same bytes" {
    dd if=/dev/urandom of="$SRC" bs=1M count=32 seek=16 conv=notrunc status=none
    receiver --resume
    # a proxy that passes the first 12 MB on, then swallows the rest: the
    # sender is surely mid-way when it is killed
    rm -f "$BATS_TEST_TMPDIR/proxy"
    "$PYTHON" "$REPO/t/lib/tcp_proxy.py" "$PORT" stall 12000000 \
        > "$BATS_TEST_TMPDIR/proxy" 2>/dev/null 3>&- &
    PROXYPID=$!
    wait_until '[ -s "$BATS_TEST_TMPDIR/proxy" ]' 10
    echo "$KEY" | "$VCOPY" send 127.0.0.1 "$(head -n 1 "$BATS_TEST_TMPDIR/proxy")" "$SRC" \
        > "$BATS_TEST_TMPDIR/tx" 2>&1 3>&- &
    TXPID=$!
    wait_until 'grep -q stalled "$BATS_TEST_TMPDIR/proxy"' 20
    kill -9 "$TXPID"
    rc=0
    wait "$RXPID" || rc=$?
    [ "$rc" -eq 111 ]
    grep -q "unable to receive .*: connection closed by the peer" "$BATS_TEST_TMPDIR/rx.err"
    [ ! -e "$DST" ]
    [ -s "$BATS_TEST_TMPDIR/.dst.img.volume-copy.partial" ]
    wait "$PROXYPID" || true
    receiver --resume
    run bash -c "echo '$KEY' | '$VCOPY' send 127.0.0.1 $PORT '$SRC'"
    assert_success
    wait "$RXPID"
    cmp "$SRC" "$DST"
    [ ! -e "$BATS_TEST_TMPDIR/.dst.img.volume-copy.partial" ]
    skipped=$(sed -n 's/.*"skipped": \([0-9]*\).*/\1/p' <<< "$output")
    sent=$(sed -n 's/.*"sent": \([0-9]*\).*/\1/p' <<< "$output")
    [ "$skipped" -ge $((8 << 20)) ]                    # what got through is kept ...
    [ $((skipped + sent)) -eq $((36 << 20)) ]          # ... and the rest sent
    grep -q "\"kept\": $skipped" "$BATS_TEST_TMPDIR/rx"
}

@test "a sender without the transfer key is refused" {
    receiver
    run bash -c "echo '{\"key\": \"ffff\"}' | '$VCOPY' send 127.0.0.1 $PORT '$SRC'"
    assert_failure 111
    rc=0
    wait "$RXPID" || rc=$?
    [ "$rc" -eq 111 ]
    grep -q "did not prove the transfer key" "$BATS_TEST_TMPDIR/rx.err"
    [ ! -e "$DST" ]
}

@test "bad input: one line, the usage exit code, no traceback" {
    run "$VCOPY" send 127.0.0.1 notaport "$SRC" < /dev/null
    [ "$status" -eq 100 ]
    assert_output "volume-copy: usage: PORT must be a number, not 'notaport'"
    run "$VCOPY" receive --no-tls "$DST" < /dev/null
    [ "$status" -eq 100 ]
    run "$VCOPY" frobnicate
    [ "$status" -eq 100 ]
    run bash -c "echo '$KEY' | '$VCOPY' send 127.0.0.1 1 '$BATS_TEST_TMPDIR/nosuch'"
    [ "$status" -eq 111 ]
    assert_output --partial "No such file or directory"
    run bash -c "echo '$KEY' | '$VCOPY' send 127.0.0.1 1 '$SRC'"
    [ "$status" -eq 111 ]
    assert_output --partial "unable to send"
    refute_output --partial Traceback
    run "$VCOPY" --help
    assert_success
    assert_output --partial "Usage: volume-copy receive"
}
