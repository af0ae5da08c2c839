"""ssconf files: Ganeti's format for the real sample, written when changed."""

import json
import os

from qganeti import config, ssconf

STATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                     "ganeti-samples", "state")


def sample():
    with open(os.path.join(STATE, "config.data.pretty.json")) as handle:
        return json.load(handle)


def test_files_match_what_ganeti_wrote_for_the_sample():
    values = ssconf.compute(sample())
    folder = os.path.join(STATE, "ssconf")
    real = dict((name[len("ssconf_"):], open(os.path.join(folder, name)).read())
                for name in os.listdir(folder))
    assert values == real


def test_lists_are_nice_sorted_and_empty_lists_are_empty_files():
    cfg = sample()
    values = ssconf.compute(cfg)
    names = values["instance_list"].split()
    assert names[:3] == ["inst1.example.com", "inst2.example.com",
                         "inst3.example.com"]
    assert names.index("inst10.example.com") > names.index("inst9.example.com")
    assert values["offline_nodes"] == "" and values["cluster_tags"] == ""
    cfg["cluster"]["uid_pool"] = [[1000, 1000], [2000, 2010]]
    cfg["cluster"]["tags"] = ["b", "a"]
    values = ssconf.compute(cfg)
    assert values["uid_pool"] == "1000\n2000-2010\n"
    assert values["cluster_tags"] == "a\nb\n"


def test_write_replaces_only_changed_files_with_mode_0444(tmp_path):
    cfg = sample()
    written = ssconf.write(cfg, str(tmp_path))
    assert len(written) == len(os.listdir(tmp_path)) == 34
    for name in os.listdir(tmp_path):
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o444
    inode = os.stat(tmp_path / "ssconf_cluster_name").st_ino
    assert ssconf.write(cfg, str(tmp_path)) == []
    cfg["cluster"]["master_ip"] = "192.0.2.200"
    assert ssconf.write(cfg, str(tmp_path)) == ["master_ip"]
    assert os.stat(tmp_path / "ssconf_cluster_name").st_ino == inode
    assert ssconf.read("master_ip", directory=str(tmp_path)) == "192.0.2.200"


def test_read_defaults_and_lines(tmp_path):
    assert ssconf.read("master_node", "none", str(tmp_path)) == "none"
    ssconf.write(sample(), str(tmp_path))
    assert ssconf.read_lines("node_primary_ips", str(tmp_path)) == \
        ["node1.example.com 192.0.2.10"]
    assert ssconf.read_lines("offline_nodes", str(tmp_path)) == []


def test_read_uses_the_state_root(tmp_path, monkeypatch):
    monkeypatch.setenv("QGANETI_ROOT", str(tmp_path))
    data = tmp_path / "var" / "lib" / "qganeti"
    data.mkdir(parents=True)
    ssconf.write(sample(), str(data))
    assert ssconf.read("cluster_name") == "cluster.example.com"


def test_commit_keeps_ssconf_current(tmp_path):
    path = str(tmp_path / "config.data")
    config.create(sample(), path)
    config.commit([{"op": "append", "path": "/cluster/tags",
                    "value": "t1"}], path)
    assert ssconf.read("cluster_tags", directory=str(tmp_path)) == "t1"
    assert ssconf.compute(config.load(path)) == dict(
        (key, open(tmp_path / ("ssconf_" + key)).read())
        for key in ssconf.compute(config.load(path)))
