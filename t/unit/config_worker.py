"""Processes for the config store's concurrency tests (run as a script).

    config_worker.py tags CONFIG GROUP_UUID COUNT START
        commit COUNT changes, each appending tag "t<k>" to the node group,
        printing "<k> <serial>" when commit returns (i.e. acknowledged)
    config_worker.py counter CONFIG COUNT START
        COUNT update()s incrementing cluster/highest_used_port
    config_worker.py reader CONFIG STOP
        load() config.data until STOP exists; prints "<loads> <failures>
        <serial_went_backwards>"
    config_worker.py one CONFIG OPS_JSON
        one commit of OPS_JSON, prints the serial
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "lib"))

from qganeti import config, errors  # noqa: E402


def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.001)


def tags(path, group, count, start):
    wait_for(start)
    for idx in range(int(count)):
        serial = config.commit([{"op": "append",
                                 "path": "/nodegroups/%s/tags" % group,
                                 "value": "t%d" % idx}], path)
        sys.stdout.write("%d %d\n" % (idx, serial))
        sys.stdout.flush()


def counter(path, count, start):
    wait_for(start)

    def bump(cfg):
        cfg["cluster"]["highest_used_port"] += 1
        return cfg["cluster"]["highest_used_port"]

    for _ in range(int(count)):
        sys.stdout.write("%d\n" % config.update(bump, path))
        sys.stdout.flush()


def reader(path, stop):
    loads = failures = backwards = 0
    last = 0
    while not os.path.exists(stop):
        try:
            cfg = config.load(path)
        except errors.ConfigurationError:
            failures += 1
            continue
        loads += 1
        if cfg["serial_no"] < last:
            backwards += 1
        last = cfg["serial_no"]
    sys.stdout.write("%d %d %d\n" % (loads, failures, backwards))


def one(path, ops):
    sys.stdout.write("%d\n" % config.commit(json.loads(ops), path))


if __name__ == "__main__":
    {"tags": tags, "counter": counter, "reader": reader,
     "one": one}[sys.argv[1]](*sys.argv[2:])
