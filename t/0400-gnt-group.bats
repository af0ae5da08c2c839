#!/usr/bin/env bats
# gnt-group: node groups of a one-node cluster, as Ganeti's tool shows them.

load lib/common

teardown() {
    destroy_cluster
}

group_names() {
    gnt-group list --no-headers -o name | tr '\n' ' '
}

@test "gnt-group usage: help, unknown commands, argument counts" {
    run gnt-group --help
    assert_success
    assert_line --partial "Usage: gnt-group {command}"
    assert_line --regexp '^ show-ispecs-cmd +- Show the command line to re-create a group$'
    run gnt-group frobnicate
    assert_failure 1
    assert_line "Unknown command 'frobnicate'"
    run gnt-group add
    assert_failure 1
    assert_output "Error: Command add expects 1 argument(s)"
    run gnt-group rename g1
    assert_failure 1
    assert_output "Error: Command rename expects 2 argument(s)"
}

@test "add, list, info, modify, rename and remove a group" {
    init_cluster
    run gnt-group add --alloc-policy=last_resort --node-parameters=spindle_count=2 \
        --ipolicy-vcpu-ratio=3 g1
    assert_success
    assert_output ""
    run gnt-group list
    assert_success
    assert_line --index 0 --regexp '^Group +Nodes +Instances +AllocPolicy +NDParams$'
    assert_line --regexp '^default +1 +0 preferred +oob_program=, spindle_count=1, '
    assert_line --regexp '^g1 +0 +0 last_resort +oob_program=, spindle_count=2, '
    run gnt-group info g1
    assert_success
    assert_line --index 0 "- Node group: g1"
    assert_line "    spindle_count: 2"
    assert_line "    ssh_port: default (22)"
    assert_line "    vcpu-ratio: 3.0"
    assert_line "    spindle-ratio: default (32)"
    assert_line "    allowed disk templates: default (diskless, file, sharedfile)"
    assert_line "      - min/0: "
    run gnt-group modify --node-parameters=spindle_count=default,ssh_port=2222 g1
    assert_success
    assert_output "Modified node group g1
 - ndparams -> {'ssh_port': 2222}"
    run gnt-group list --no-headers --separator=: -o name,custom_ndparams g1
    assert_output "g1:{'ssh_port': 2222}"
    run gnt-group rename g1 g2
    assert_success
    assert_equal "$(group_names)" "default g2 "
    run gnt-group remove g2
    assert_success
    assert_equal "$(group_names)" "default "
}

@test "odd, empty, too long and duplicate names are refused and nothing is created" {
    init_cluster
    for name in "a b" "../x" "x;y" "--force" ".x" "$(printf 'x%.0s' $(seq 129))"; do
        run gnt-group add -- "$name"
        assert_failure 1
        assert_line --index 0 "Failure: prerequisites not met for this operation:"
        assert_line "error type: wrong_input, error details:"
        assert_line --partial "Invalid group name '$name': "
    done
    run gnt-group add ""
    assert_failure 1
    assert_output --partial "Parameter 'OP_GROUP_ADD.group_name' fails validation"
    run gnt-group add default
    assert_failure 1
    assert_line "error type: already_exists, error details:"
    assert_line --regexp "^Desired group name 'default' already exists as a node group \(UUID: [0-9a-f-]{36}\)$"
    run gnt-group add --node-parameters=colour=red g1
    assert_failure 1
    assert_output --partial "Unknown parameter 'colour'"
    run gnt-group add --alloc-policy=sometimes g1
    assert_failure 1
    assert_output --partial "Parameter 'OP_GROUP_ADD.alloc_policy' fails validation"
    run gnt-group add --ipolicy-vcpu-ratio=lots g1
    assert_failure 2
    assert_output --partial "invalid floating-point value: 'lots'"
    assert_equal "$(group_names)" "default "
}

@test "modify needs a change; unknown groups are not found" {
    init_cluster
    run gnt-group modify default
    assert_failure 1
    assert_output "Please give at least one of the parameters."
    run gnt-group modify --alloc-policy=unallocable nope
    assert_failure 1
    assert_output "Failure: prerequisites not met for this operation:
error type: unknown_entity, error details:
Node group 'nope' not found"
    run gnt-group info nope
    assert_failure 1
    assert_output --partial "NodeGroup name nope not found"
}

@test "assign-nodes moves the node; non-empty groups stay; empty ones evacuate to nothing" {
    init_cluster
    gnt-group add g1
    run gnt-group remove default
    assert_failure 1
    assert_output --partial "Group 'default' not empty, has the following nodes: node1.example.com"
    run gnt-group assign-nodes g1 node1
    assert_success
    run gnt-node list --no-headers -o name,group
    assert_output --regexp '^node1\.example\.com +g1$'
    run gnt-group evacuate default
    assert_success
    assert_line --partial "Iallocator returned 0 job(s) for evacuating node group default"
    assert_line "All instances evacuated successfully."
    run gnt-group remove default
    assert_success
    assert_equal "$(group_names)" "g1 "
}

@test "a failing pre hook aborts group-add; post hooks get the group's variables" {
    init_cluster
    hooks=$QGANETI_ROOT/etc/qganeti/hooks
    mkdir -p "$hooks/group-add-pre.d" "$hooks/group-add-post.d"
    printf '#!/bin/sh\necho no groups today\nexit 1\n' > "$hooks/group-add-pre.d/10-veto"
    chmod +x "$hooks/group-add-pre.d/10-veto"
    run gnt-group add g1
    assert_failure 1
    assert_output --partial "node: node1.example.com, script: 10-veto, output: no groups today"
    assert_equal "$(group_names)" "default "
    rm "$hooks/group-add-pre.d/10-veto"
    printf '#!/bin/sh\nenv | grep ^GANETI_ | sort > "%s/post-env"\n' "$BATS_TEST_TMPDIR" \
        > "$hooks/group-add-post.d/20-record"
    chmod +x "$hooks/group-add-post.d/20-record"
    run gnt-group add g1
    assert_success
    run cat "$BATS_TEST_TMPDIR/post-env"
    assert_line "GANETI_GROUP_NAME=g1"
    assert_line "GANETI_POST_GROUP_NAME=g1"
    assert_line "GANETI_HOOKS_PATH=group-add"
    assert_line "GANETI_OBJECT_TYPE=GROUP"
    assert_line "GANETI_OP_CODE=OP_GROUP_ADD"
}

@test "show-ispecs-cmd and tags" {
    init_cluster
    gnt-group add --ipolicy-bounds-specs min:memory-size=128,cpu-count=1,disk-count=1,disk-size=1024,nic-count=1,spindle-use=1/max:memory-size=1G,cpu-count=2,disk-count=2,disk-size=2G,nic-count=2,spindle-use=2 g1
    run gnt-group show-ispecs-cmd g1
    assert_output "gnt-group add --ipolicy-bounds-specs min:cpu-count=1,disk-count=1,disk-size=1024,memory-size=128,nic-count=1,spindle-use=1/max:cpu-count=2,disk-count=2,disk-size=2048,memory-size=1024,nic-count=2,spindle-use=2 g1"
    run gnt-group show-ispecs-cmd default
    assert_output "gnt-group add default"
    gnt-group add-tags g1 rack:a1 tier:web
    run gnt-group list-tags g1
    assert_output "rack:a1
tier:web"
    run gnt-group remove-tags g1
    assert_failure 1
    assert_output --partial "No tags to be removed"
}

@test "op programs run by hand take their parameters on argv" {
    init_cluster
    run "$LIBEXEC/op/group-add" --help
    assert_success
    assert_line --index 0 "Usage: group-add [--job ID [--op-index N]] [--dry-run] [PARAMETERS]"
    run "$LIBEXEC/op/group-add" --group-name g9 --colour red
    assert_failure 100
    assert_output "group-add: usage: unknown option or bad value: --colour"
    run "$LIBEXEC/op/group-add" --group-name g9 --ndparams '{"spindle_count": 4}'
    assert_success
    run gnt-group list --no-headers -o name,custom_ndparams g9
    assert_output --regexp "^g9 +\{'spindle_count': 4\}$"
}
