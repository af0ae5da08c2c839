#!/usr/bin/env bats
# Instance NICs on networks: ip=pool takes a free address of the network's
# pool, explicit addresses are reserved; removal gives them back.

load lib/common

teardown() {
    destroy_cluster
}

add() {
    gnt-instance add --no-name-check --no-ip-check -o noop -t diskless --no-start "$@"
}

pool_map() {
    gnt-network list --no-headers -o map "${1:-net1}"
}

setup_network() {
    init_cluster
    gnt-network add --network=192.0.2.0/29 --gateway=192.0.2.1 net1 >/dev/null
    gnt-network connect --nic-parameters=mode=bridged,link=br0 net1 >/dev/null
}

@test "ip=pool takes the first free address; the NIC inherits the group's netparams" {
    setup_network
    [ "$(pool_map)" = "XX.....X" ]
    run add --net 0:ip=pool,network=net1 web1
    assert_success
    assert_line --regexp " NIC/0 inherits netparams \['bridged', 'br0', ''\]$"
    assert_line --regexp " Chose IP 192\.0\.2\.2 from network net1$"
    run add --net 0:ip=pool,network=net1 --net 1:ip=pool,network=net1 web2
    assert_success
    run gnt-instance list --no-headers -o name,nic.ips,nic.modes,nic.links
    assert_line --regexp '^web1 +192\.0\.2\.2 +bridged +br0$'
    assert_line --regexp '^web2 +192\.0\.2\.3,192\.0\.2\.4 +bridged,bridged +br0,br0$'
    [ "$(pool_map)" = "XXXXX..X" ]
    run gnt-network info net1
    assert_line "  used by 2 instances:"
    assert_line "    web1: 0:192.0.2.2"
    # an explicit address is reserved; a taken one is refused
    run add --net 0:ip=192.0.2.6,network=net1 web3
    assert_success
    [ "$(pool_map)" = "XXXXX.XX" ]
    run add --net 0:ip=192.0.2.2,network=net1 web4
    assert_failure 1
    assert_output --partial "IP address 192.0.2.2 already in use or does not belong to network net1"
    run add --net 0:ip=198.51.100.1,network=net1 web4
    assert_failure 1
    assert_output --partial "IP address 198.51.100.1 already in use or does not belong to network net1"
    # the pool runs dry
    run add --net 0:ip=pool,network=net1 web4
    assert_success
    run add --net 0:ip=pool,network=net1 web5
    assert_failure 1
    assert_output --partial $'error type: wrong_state, error details:\nUnable to get a free IP for NIC 0 from the address pool'
    [ "$(pool_map)" = "XXXXXXXX" ]
    # without a network there is no pool; a network must be connected
    run add --net 0:ip=pool web5
    assert_failure 1
    assert_output --partial "if ip=pool, parameter network must be passed too"
    gnt-network add --network=198.51.100.0/29 net2 >/dev/null
    run add --net 0:ip=pool,network=net2 web5
    assert_failure 1
    assert_output --partial "No netparams found for network net2. Probably not connected to node's node1.example.com nodegroup"
    run add --net 0:ip=pool,network=net1,mode=routed web5
    assert_failure 1
    assert_output --partial "If network is given, no mode or link is allowed to be passed"
}

@test "removal, a failed add and NIC changes give addresses back" {
    setup_network
    add --net 0:ip=pool,network=net1 web1 >/dev/null
    add --net 0:ip=pool,network=net1 web2 >/dev/null
    [ "$(pool_map)" = "XXXX...X" ]
    run gnt-instance remove -f web1
    assert_success
    [ "$(pool_map)" = "XX.X...X" ]
    # a failed add (its OS cannot install) leaves the address free
    os_dir=$QGANETI_ROOT/srv/qganeti/os/failing
    cp -r "$REPO/os/noop" "$os_dir"
    printf '#!/bin/sh\nexit 1\n' > "$os_dir/create"
    run gnt-instance add -t file -s 1G -o failing --no-name-check --no-ip-check \
        --net 0:ip=pool,network=net1 web3
    assert_failure 1
    assert_output --partial "Chose IP 192.0.2.2 from network net1"
    [ "$(pool_map)" = "XX.X...X" ]
    # modify: a NIC added from the pool, moved to another address, removed
    run gnt-instance modify --net add:ip=pool,network=net1 web2
    assert_success
    assert_line --regexp ' Chose IP 192\.0\.2\.2 from network net1$'
    [ "$(pool_map)" = "XXXX...X" ]
    run gnt-instance modify --net 1:modify,ip=192.0.2.6 web2
    assert_success
    assert_line " - nic.ip/1 -> 192.0.2.6"
    [ "$(pool_map)" = "XX.X..XX" ]
    run gnt-instance modify --net 1:modify,ip=192.0.2.3 web2
    assert_failure 1
    assert_output --partial "IP 192.0.2.3 not available in network net1"
    run gnt-instance modify --net 1:modify,link=br1 web2
    assert_failure 1
    assert_output --partial "Not allowed to change link or mode of a NIC that is connected to a network"
    run gnt-instance modify --net 1:remove web2
    assert_success
    [ "$(pool_map)" = "XX.X...X" ]
    # leaving the network frees the address; the IP stays on the NIC
    run gnt-instance modify --net 0:modify,network=none web2
    assert_failure 1
    assert_output --partial "The requested IP address (192.0.2.3) belongs to network net1, but the target NIC does not."
    run gnt-instance modify --net 0:modify,ip=none,network=none web2
    assert_success
    [ "$(pool_map)" = "XX.....X" ]
}

@test "concurrent creations from one pool never share an address" {
    setup_network
    gnt-network add --network=198.51.100.0/28 net2 >/dev/null
    gnt-network connect --nic-parameters=mode=bridged,link=br0 net2 >/dev/null
    "$PYTHON" - <<'PYEOF'
import sys, time
sys.path.insert(0, "lib")
from qganeti import luxi
client = luxi.Client()
ops = [[{"OP_ID": "OP_INSTANCE_CREATE", "instance_name": "p%02d" % i, "mode": "create",
         "disk_template": "diskless", "disks": [], "os_type": "noop", "start": False,
         "nics": [{"ip": "pool", "network": "net2"}], "name_check": False,
         "ip_check": False}] for i in range(16)]
ids = [jid for ok, jid in client.SubmitManyJobs(ops)]
while any(row[0] not in ("success", "error") for row in client.QueryJobs(ids, ["status"])):
    time.sleep(0.2)
PYEOF
    # a /28 has 14 free addresses: 14 instances got one each, 2 jobs failed
    run gnt-job list --no-headers -o status,summary
    [ "$(echo "$output" | grep -c '^success *INSTANCE_CREATE')" -eq 14 ]
    [ "$(echo "$output" | grep -c '^error *INSTANCE_CREATE')" -eq 2 ]
    run gnt-instance list --no-headers -o nic.ips
    [ "$(echo "$output" | sort -u | wc -l)" -eq 14 ]
    [ "$(pool_map net2)" = "XXXXXXXXXXXXXXXX" ]
}
