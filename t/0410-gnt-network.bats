#!/usr/bin/env bats
# gnt-network: networks, their address pools and their node group connections.

load lib/common

teardown() {
    destroy_cluster
}

network_names() {
    gnt-network list --no-headers -o name | tr '\n' ' '
}

@test "gnt-network usage: help, unknown commands, argument counts" {
    run gnt-network --help
    assert_success
    assert_line --regexp '^ connect +- Map a given network to the specified node group'
    run gnt-network connect
    assert_failure 1
    assert_output "Error: Command connect expects at least 1 argument(s)"
    run gnt-network info a b c --colour
    assert_failure 2
    assert_output --partial "no such option: --colour"
}

@test "add reserves the special addresses; list and info show the pool" {
    init_cluster
    run gnt-network add --network=192.0.2.0/28 --gateway=192.0.2.1 \
        --add-reserved-ips=192.0.2.5,192.0.2.6 --tags=blue,red -m AA:BB:CC net1
    assert_success
    run gnt-network list
    assert_line --index 0 --regexp '^Network +Subnet +Gateway +MacPrefix +GroupList +Tags$'
    assert_line --index 1 --regexp '^net1 +192\.0\.2\.0/28 +192\.0\.2\.1 +aa:bb:cc +blue,red$'
    run gnt-network info net1
    assert_success
    assert_line --index 0 "Network name: net1"
    assert_line --regexp '^UUID: [0-9a-f-]{36}$'
    assert_line "Serial number: 1"
    assert_line "  Subnet: 192.0.2.0/28"
    assert_line "  Gateway: 192.0.2.1"
    assert_line "  IPv6 Subnet: None"
    assert_line "  Mac Prefix: aa:bb:cc"
    assert_line "  Size: 16"
    assert_line "  Free: 11 (68.75%)"
    assert_line "        0 XX...XX........X                                                 63"
    assert_line "         (X) used    (.) free"
    assert_line "    192.0.2.0, 192.0.2.1, 192.0.2.5, 192.0.2.6, 192.0.2.15"
    assert_line "  not connected to any node group"
    assert_line "  not used by any instances"
    run gnt-network list --no-headers --separator=: -o name,free_count,reserved_count,map
    assert_output "net1:11:5:XX...XX........X"
}

@test "bad networks, addresses and names are refused and nothing is created" {
    init_cluster
    run gnt-network add net1
    assert_failure 1
    assert_output --partial "The --network option must be given"
    for net in 192.0.2.0/33 192.0.2.0 300.0.2.0/24 192.0.2.0/x; do
        run gnt-network add --network=$net net1
        assert_failure 1
        assert_output --partial "Parameter 'OP_NETWORK_ADD.network' fails validation"
    done
    run gnt-network add --network=10.0.0.0/15 net1
    assert_failure 1
    assert_output --partial "Cannot create IP address pool for network 'net1': A big network with 131072 host(s) is currently not supported. please specify at most a /16 network"
    run gnt-network add --network=10.0.0.0/24 --gateway=10.1.0.1 net1
    assert_failure 1
    assert_output --partial "10.0.0.0/24 does not contain 10.1.0.1"
    run gnt-network add --network=10.0.0.0/24 --gateway=10.0.0.300 net1
    assert_failure 1
    assert_output --partial "Parameter 'OP_NETWORK_ADD.gateway' fails validation"
    run gnt-network add --network=10.0.0.0/24 -m zz:00:00 net1
    assert_failure 1
    assert_output --partial "Invalid MAC address 'zz:00:00'"
    for name in "a b" "../x" "x;y" "--force"; do
        run gnt-network add --network=10.0.0.0/24 -- "$name"
        assert_failure 1
        assert_output --partial "Invalid network name '$name': "
    done
    assert_equal "$(network_names)" ""
    gnt-network add --network=10.0.0.0/24 net1
    run gnt-network add --network=10.1.0.0/24 net1
    assert_failure 1
    assert_line "error type: already_exists, error details:"
    assert_equal "$(network_names)" "net1 "
}

@test "modify moves the gateway and changes external reservations" {
    init_cluster
    gnt-network add --network=10.0.0.0/28 --gateway=10.0.0.1 net1
    run gnt-network modify net1
    assert_failure 1
    assert_output "Please give at least one of the parameters."
    run gnt-network modify --gateway=10.0.0.2 --add-reserved-ips=10.0.0.3 net1
    assert_failure 1
    assert_output --partial "Cannot modify gateway and reserved ips at once"
    run gnt-network modify --gateway=10.0.0.2 net1
    assert_success
    run gnt-network modify --add-reserved-ips=10.0.0.9 --remove-reserved-ips=10.0.0.2,10.0.0.7 net1
    assert_success
    assert_line --partial "WARNING: Cannot unreserve Gateway's IP"
    assert_line --partial "WARNING: Cannot release IP address 10.0.0.7: IP 10.0.0.7 is not externally reserved"
    run gnt-network list --no-headers -o gateway,external_reservations net1
    assert_output --regexp '^10\.0\.0\.2 +10\.0\.0\.0, 10\.0\.0\.2, 10\.0\.0\.9, 10\.0\.0\.15$'
}

@test "connect to all groups, disconnect, and remove only when disconnected" {
    init_cluster
    gnt-group add g2
    gnt-network add --network=10.0.0.0/24 net1
    run gnt-network connect -N mode=routed,link=rt1 net1
    assert_success
    run gnt-network list --no-headers -o group_list net1
    # in the order of the groups' UUIDs, as Ganeti's
    assert_output --regexp '^(default \(routed, rt1, -\), g2|g2 \(routed, rt1, -\), default) \(routed, rt1, -\)$'
    run gnt-network connect net1 g2
    assert_success
    assert_output --partial "WARNING: Network 'net1' is already mapped to group 'g2'"
    run gnt-network remove net1
    assert_failure 1
    assert_output --partial "Network still connected"
    assert_output --partial "Network 'net1' is connected to the following node groups: default, g2"
    run gnt-network disconnect net1 default
    assert_success
    run gnt-network list --no-headers -o group_list net1
    assert_output "g2 (routed, rt1, -)"
    gnt-network disconnect net1
    run gnt-network remove net1
    assert_success
    assert_equal "$(network_names)" ""
}

@test "hooks of network-add see the network's variables" {
    init_cluster
    hooks=$QGANETI_ROOT/etc/qganeti/hooks
    mkdir -p "$hooks/network-add-pre.d"
    printf '#!/bin/sh\nenv | grep ^GANETI_NETWORK | sort > "%s/pre-env"\n' "$BATS_TEST_TMPDIR" \
        > "$hooks/network-add-pre.d/10-record"
    chmod +x "$hooks/network-add-pre.d/10-record"
    gnt-network add --network=10.0.0.0/24 --gateway=10.0.0.1 --tags=a,b net1
    run cat "$BATS_TEST_TMPDIR/pre-env"
    assert_output "GANETI_NETWORK_GATEWAY=10.0.0.1
GANETI_NETWORK_NAME=net1
GANETI_NETWORK_SUBNET=10.0.0.0/24
GANETI_NETWORK_TAGS=a b"
}
