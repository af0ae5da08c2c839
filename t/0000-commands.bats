#!/usr/bin/env bats
# Every command people type (bin/), every daemon and every shared mechanism
# in libexec/qganeti/ (daemon-util, lock-grant, config-write ...) has --help
# and a man page.

load lib/common

commands() {
    for f in "$REPO"/bin/* "$LIBEXEC"/daemons/* "$LIBEXEC"/*; do
        [ -f "$f" ] && [ -x "$f" ] && echo "$f"
    done
}

@test "every command and daemon answers --help with a usage text and exit 0" {
    for f in $(commands); do
        run "$f" --help
        [ "$status" -eq 0 ] || fail "$f --help exited $status: $output"
        [[ "$output" == *"sage"* ]] || fail "$f --help printed no usage: $output"
    done
}

@test "every command and daemon has a man page that renders cleanly" {
    for f in $(commands); do
        name=${f##*/}
        page=$(ls "$REPO"/man/"$name".[18] 2>/dev/null | head -n 1)
        [ -n "$page" ] || fail "no man page for $name"
        run groff -man -Tutf8 -ww -z "$page"
        [ "$status" -eq 0 ] && [ -z "$output" ] || fail "$page: $output"
    done
}
