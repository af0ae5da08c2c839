#!/usr/bin/env bats
# gnt-node add, remove, readd, modify, info and list on a virtual cluster.

load lib/common
load lib/vcluster

teardown() { vc_down; }

@test "add prepares the node over SSH and it joins with ssconf, keys and config" {
    vc_up 2
    vc_init
    run gnt-node add node2.example.com
    assert_success
    assert_output --partial "Communication to node node2.example.com fine, sw version 3.0.2 match"
    assert_output --partial "Node will be a master candidate"
    n2=$VC/node2/var/lib/qganeti
    run cat "$n2/ssconf_master_node"
    assert_output node1.example.com
    run cat "$n2/ssconf_node_list"
    assert_output $'node1.example.com\nnode2.example.com'
    [ -f "$n2/ssh/id_rsa" ] && [ -f "$n2/server.pem" ]
    grep -q "^node1.example.com,127.0.0.11 " "$n2/ssh/known_hosts"
    grep -q "^node2.example.com,127.0.0.12 " "$VC/node1/var/lib/qganeti/ssh/known_hosts"
    # the cluster's key is what logs in now
    grep -qF "$(cut -d' ' -f2 "$VC/node1/var/lib/qganeti/ssh/id_rsa.pub")" \
        "$n2/ssh/authorized_keys"
    [ "$(config_serial 2)" = "$(config_serial 1)" ]
    run gnt-node list -o name,pip,role,mtotal --no-headers
    assert_line --regexp '^node1.example.com +127.0.0.11 +M +[0-9.]+[MGT]$'
    assert_line --regexp '^node2.example.com +127.0.0.12 +C +[0-9.]+[MGT]$'
}

@test "node-add post hooks run on the nodes already in and on the new node" {
    vc_up 2
    vc_init
    for i in 1 2; do
        hooks=$VC/node$i/etc/qganeti/hooks/node-add-post.d
        mkdir -p "$hooks"
        printf '#!/bin/sh\necho "node%s $GANETI_NODE_NAME" >> %s\n' "$i" "$VC/post-hooks" \
            > "$hooks/10-record"
        chmod +x "$hooks/10-record"
    done
    run gnt-node add node2.example.com
    assert_success
    run sort "$VC/post-hooks"
    assert_output $'node1 node2.example.com\nnode2 node2.example.com'
}

@test "add refuses a node already in, an unknown name, and readd of an unknown node" {
    vc_cluster 2
    run gnt-node add node2.example.com
    assert_failure
    assert_output --partial "Node node2.example.com already in the cluster (as node2.example.com) - please retry with '--readd'"
    run gnt-node add --readd node3.example.com
    assert_failure
    run gnt-node add nosuch.example.com
    assert_failure
    assert_output --partial "nosuch.example.com"
    refute_output --partial "Traceback"
    run gnt-node list --no-headers -o name
    assert_output $'node1.example.com\nnode2.example.com'
}

@test "a node whose host key changed is refused, also for plain node calls" {
    vc_cluster 2
    sshd_dir=$VC/node2/sshd
    rm -f "$sshd_dir/ssh_host_ed25519_key" "$sshd_dir/ssh_host_ed25519_key.pub"
    vc_down
    vc_up 2            # the same nodes, node2 with a new host key
    on_node 1
    libexec_daemon=$LIBEXEC/daemon-util
    "$libexec_daemon" start luxid --no-voting
    run gnt-node add --readd node2.example.com
    assert_failure
    assert_output --partial "host key has changed"
    run gnt-cluster command -n node2.example.com true
    assert_output --partial "host key has changed"
    run gnt-node add --readd --no-ssh-key-check node2.example.com
    assert_success
    run gnt-cluster command -n node2.example.com 'echo $QGANETI_HOSTNAME'
    assert_output --partial "node2.example.com"
}

@test "remove makes the node leave; readd brings it back; roles follow the pool" {
    vc_cluster 3 --candidate-pool-size=1
    run gnt-node list -o name,role --no-headers
    assert_line --regexp '^node2.example.com +R$'
    [ "$(config_serial 2)" = -1 ]          # not a candidate: no config.data
    [ -f "$VC/node2/var/lib/qganeti/ssconf_node_list" ]
    run gnt-node modify -C yes node3.example.com
    assert_success
    wait_until '[ "$(config_serial 3)" = "$(config_serial 1)" ]' 20
    run gnt-node remove node3.example.com
    assert_success
    [ ! -e "$VC/node3/var/lib/qganeti/config.data" ]
    [ ! -e "$VC/node3/var/lib/qganeti/ssh/id_rsa" ]
    ! grep -q node3 "$VC/node1/var/lib/qganeti/ssh/known_hosts"
    run gnt-node add node3.example.com
    assert_success
    run gnt-node modify --offline yes node3.example.com
    assert_success
    run gnt-node add --readd node3.example.com
    assert_success
    assert_output --partial "Readding a node, the offline/drained flags were reset"
    run gnt-node list -o name,offline --no-headers node3.example.com
    assert_output --regexp 'N$'
}

@test "modify and info across nodes; an offline node gives no live data" {
    vc_cluster 2
    run gnt-node modify --drained yes node2.example.com
    assert_success
    assert_output --partial "drained -> True"
    run gnt-node info node2.example.com
    assert_output --partial "drained: True"
    assert_output --partial "total memory"
    run gnt-node modify --offline yes node2.example.com
    assert_success
    run gnt-node list -o name,mfree,offline --no-headers node2.example.com
    assert_output --regexp '^node2.example.com +\* +Y$'
}
