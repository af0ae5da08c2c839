"""config.data is schema-checked on load, but the same bytes only once:
PATH.checked holds the digest of content known to pass the check."""

import json
import os
import shutil

import pytest

from qganeti import config, errors

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
SAMPLE = os.path.join(DATA, "ganeti-samples", "state", "config.data.pretty.json")


@pytest.fixture
def cfg_path(tmp_path):
    path = str(tmp_path / "config.data")
    shutil.copy(SAMPLE, path)
    return path


def test_a_commit_records_the_digest_of_what_it_wrote(cfg_path):
    config.commit([{"op": "replace", "path": "/cluster/max_running_jobs", "value": 7}],
                  path=cfg_path)
    with open(cfg_path, "rb") as handle:
        text = handle.read()
    with open(cfg_path + ".checked") as handle:
        assert handle.read().strip() == config._digest(text)
    assert config.load(cfg_path)["cluster"]["max_running_jobs"] == 7


def test_a_hand_edit_is_checked_again(cfg_path):
    config.commit([{"op": "replace", "path": "/cluster/max_running_jobs", "value": 7}],
                  path=cfg_path)
    cfg = config.load(cfg_path)
    inst = sorted(cfg["instances"])[0]
    cfg["instances"][inst]["primary_node"] = "no-such-node"
    with open(cfg_path, "w") as handle:
        json.dump(cfg, handle)
    with pytest.raises(errors.ConfigurationError) as info:
        config.load(cfg_path)
    assert "no-such-node" in str(info.value)
    # a wrong digest on record does not let a broken config through either
    with open(cfg_path + ".checked", "w") as handle:
        handle.write("0" * 32 + "\n")
    with pytest.raises(errors.ConfigurationError):
        config.load(cfg_path)


def test_checked_content_is_not_checked_again(cfg_path, monkeypatch):
    config.commit([{"op": "replace", "path": "/cluster/max_running_jobs", "value": 7}],
                  path=cfg_path)
    calls = []
    real = config.check
    monkeypatch.setattr(config, "check", lambda cfg: calls.append(1) or real(cfg))
    config.load(cfg_path)
    assert calls == []
    os.unlink(cfg_path + ".checked")
    config.load(cfg_path)
    config.load(cfg_path)
    assert calls == [1]      # checked once more, then remembered


def test_files_no_writer_keeps_get_no_digest(tmp_path):
    path = str(tmp_path / "copy.json")
    shutil.copy(SAMPLE, path)
    config.load(path)
    assert not os.path.exists(path + ".checked")


def test_ssconf_follows_instance_additions_and_renames_only(cfg_path):
    from qganeti import ssconf
    folder = os.path.dirname(cfg_path)
    cfg = config.load(cfg_path)
    uuid = sorted(cfg["instances"])[0]
    name = cfg["instances"][uuid]["name"]
    config.commit([{"op": "append", "path": "/cluster/tags", "value": "t"}], path=cfg_path)
    listing = os.path.join(folder, "ssconf_instance_list")
    assert name in ssconf.read_lines("instance_list", directory=folder)
    before = os.stat(listing).st_mtime_ns
    # a tag of an instance: no ssconf file can change, none is written
    config.commit([{"op": "append", "path": "/instances/%s/tags" % uuid, "value": "x"}],
                  path=cfg_path)
    assert os.stat(listing).st_mtime_ns == before
    # a rename: the instance list follows
    config.commit([{"op": "replace", "path": "/instances/%s/name" % uuid,
                    "value": "renamed.example.com"}], path=cfg_path)
    names = ssconf.read_lines("instance_list", directory=folder)
    assert "renamed.example.com" in names and name not in names
    # and so does an update() that removes an instance
    config.update(lambda c: c["instances"].pop(uuid) and None, path=cfg_path)
    assert "renamed.example.com" not in ssconf.read_lines("instance_list", directory=folder)
