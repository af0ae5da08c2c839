#!/usr/bin/env bats
# Bad input to any gnt-* subcommand: a clear message and a non-zero exit,
# never a traceback, and the cluster keeps serving.

load lib/common

teardown() {
    destroy_cluster
}

subcommands() {
    "$1" --help | awk '/^Commands:/ { on = 1; next } on && /^ [a-z]/ { print $1 }'
}

@test "every gnt-* subcommand answers bad arguments without a traceback" {
    init_cluster
    gnt-instance add -t diskless -o noop --no-start --no-name-check --no-ip-check web1 >/dev/null
    checked=0
    for cmd in gnt-cluster gnt-instance gnt-job gnt-debug gnt-node gnt-group gnt-network gnt-os; do
        for sub in $(subcommands "$cmd"); do
            for args in "nosuch-object" "--no-such-option" "'' ''"; do
                eval "run timeout 60 $cmd $sub $args </dev/null"
                [ "$status" -ne 124 ] || fail "$cmd $sub $args: no answer within 60 s"
                [[ "$output" != *Traceback* ]] || fail "$cmd $sub $args: $output"
                checked=$((checked + 1))
            done
        done
    done
    [ "$checked" -gt 250 ]
    run gnt-instance list --no-headers -o name
    assert_output "web1"
    run gnt-cluster verify
    assert_success
}
