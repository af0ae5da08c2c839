#!/usr/bin/env bats
# gnt-os (list, diagnose, info, modify), the OS search path, and the two OS
# definitions shipped in the tree: noop, and image with real raw and qcow2
# images (qemu-img).

load lib/common

teardown() {
    destroy_cluster
}

# a raw image with markers at 0 and at 2 MiB, and the same as qcow2
make_images() {
    command -v qemu-img >/dev/null || skip "qemu-img is not installed (.ci/run installs qemu-utils)"
    img=$BATS_TEST_TMPDIR/img
    printf 'IMAGE-START' > "$img.raw"
    truncate -s 3M "$img.raw"
    printf 'IMAGE-AT-2M' | dd of="$img.raw" bs=1M seek=2 conv=notrunc status=none
    qemu-img convert -f raw -O qcow2 "$img.raw" "$img.qcow2"
    qemu-img create -q -f qcow2 "$img-big.qcow2" 2G
}

first_disk() {
    ls "$QGANETI_ROOT"/srv/qganeti/file-storage/"$1"/*.disk0
}

@test "list, info and diagnose show the tree's OS definitions" {
    init_cluster
    run gnt-os list
    assert_success
    assert_output $'Name\nimage\nnoop'
    run gnt-os list --no-headers
    assert_output $'image\nnoop'
    run gnt-os info image
    assert_success
    assert_line "image:"
    assert_line "  - valid: True"
    assert_line "  - API versions:"
    assert_line "    - 20"
    assert_line "    - image: Path of the raw or qcow2 image file written onto the first disk"
    run gnt-os diagnose
    assert_success
    assert_line "OS: noop [global status: valid]"
    assert_line --regexp "^  Node: [0-9a-f-]{36}, status: valid \(path: $REPO/os/noop\) \[API versions: 20\] \[no variants\] \[no parameters\] \[trusted\]$"
}

@test "the root's srv/qganeti/os comes first in the search path; broken definitions are diagnosed" {
    init_cluster
    cp -r "$REPO/os/noop" "$QGANETI_ROOT/srv/qganeti/os/noop"
    mkdir "$QGANETI_ROOT/srv/qganeti/os/broken"
    echo 20 > "$QGANETI_ROOT/srv/qganeti/os/broken/ganeti_api_version"
    run gnt-os diagnose
    assert_failure 1
    assert_line --regexp "^  Node: [0-9a-f-]{36}, status: valid \(path: $QGANETI_ROOT/srv/qganeti/os/noop\) "
    assert_line "    [hidden] path: $REPO/os/noop, status: valid"
    assert_line "OS: broken [global status: invalid]"
    run gnt-os list --no-headers
    assert_output $'image\nnoop'
    run gnt-instance add -t diskless -o broken --no-start --no-name-check --no-ip-check web1
    assert_failure 1
}

@test "modify: hidden and blacklisted OSes, cluster-wide OS parameters" {
    init_cluster
    run gnt-os modify --hidden=yes noop
    assert_success
    run gnt-os list --no-headers
    assert_output "image"
    run gnt-os modify --hidden=no --blacklisted=yes noop
    assert_success
    run gnt-instance add -t diskless -o noop --no-start --no-name-check --no-ip-check web1
    assert_failure 1
    assert_output --partial "Guest OS 'noop' is not allowed for installation"
    gnt-os modify --blacklisted=no noop
    make_images
    run gnt-os modify -O image="$img.raw" image
    assert_success
    run gnt-cluster info
    assert_line "    image: $img.raw"
    # the cluster's value is the default of every instance
    run gnt-instance add -t file -s 1G -o image --no-start --no-name-check --no-ip-check web1
    assert_success
    [ "$(head -c 11 "$(first_disk web1)")" = "IMAGE-START" ]
    run gnt-os modify --hidden=maybe noop
    assert_failure
}

@test "image writes a raw image onto disk 0, with its progress in the OS log" {
    init_cluster
    make_images
    run gnt-instance add -t file --disk 0:size=1G --disk 1:size=1G -o image -O image="$img.raw" \
        --no-name-check --no-ip-check raw1
    assert_success
    disk=$(first_disk raw1)
    [ "$(head -c 11 "$disk")" = "IMAGE-START" ]
    [ "$(dd if="$disk" bs=1M skip=2 count=1 status=none | tr -d '\0')" = "IMAGE-AT-2M" ]
    [ "$(stat -c %s "$disk")" -eq $((1024 * 1048576)) ]     # the disk keeps its size
    [ "$(stat -c %b "$disk")" -lt 20000 ]                    # and stays sparse
    run cat "$QGANETI_ROOT"/var/log/qganeti/os/add-image-raw1-*.log
    assert_line --regexp "^image: writing raw image $img\.raw \(3145728 bytes\) onto .*\.disk0 \(1073741824 bytes\)$"
    assert_output --partial "copied"                         # dd's progress
    assert_line "image: done"
    run gnt-instance list --no-headers -o status,os raw1
    assert_output --regexp '^running +image$'
}

@test "image writes a qcow2 image's content; an image larger than the disk is refused and undone" {
    init_cluster
    make_images
    run gnt-instance add -t file -s 1G -o image -O image="$img.qcow2" --no-start \
        --no-name-check --no-ip-check q1
    assert_success
    disk=$(first_disk q1)
    [ "$(head -c 11 "$disk")" = "IMAGE-START" ]
    [ "$(dd if="$disk" bs=1M skip=2 count=1 status=none | tr -d '\0')" = "IMAGE-AT-2M" ]
    run cat "$QGANETI_ROOT"/var/log/qganeti/os/add-image-q1-*.log
    assert_line --partial "image: writing qcow2 image $img.qcow2 (3145728 bytes)"
    assert_output --partial "(100.00/100%)"                  # qemu-img's progress
    run gnt-instance add -t file -s 1G -o image -O image="$img-big.qcow2" --no-start \
        --no-name-check --no-ip-check big1
    assert_failure 1
    assert_output --partial "image: image '$img-big.qcow2' (2147483648 bytes) does not fit on disk 0 (1073741824 bytes)"
    [ ! -e "$QGANETI_ROOT/srv/qganeti/file-storage/big1" ]
    run gnt-instance add -t file -s 1G -o image -O image="$BATS_TEST_TMPDIR/none.raw" \
        --no-start --no-name-check --no-ip-check none1
    assert_failure 1
    assert_output --partial "image: cannot read image '$BATS_TEST_TMPDIR/none.raw'"
    run gnt-instance add -t file -s 1G -o image --no-start --no-name-check --no-ip-check none1
    assert_failure 1
    assert_output --partial "image: OS parameter 'image' is required"
    run gnt-instance list --no-headers -o name
    assert_output "q1"
    # reinstall writes the image again
    printf 'CHANGED' | dd of="$disk" conv=notrunc status=none
    run gnt-instance reinstall -f q1
    assert_success
    [ "$(head -c 11 "$disk")" = "IMAGE-START" ]
}
