"""Human-edited settings: qganeti.yaml.

The tree's etc/qganeti.yaml holds every setting with its default; a node's
$QGANETI_ROOT/etc/qganeti/qganeti.yaml overrides any of them, section by
section and key by key. Both are read with PyYAML's safe_load. Daemons read
the settings when they start and set-up commands when they run; operations
(op programs) never do, so PyYAML's import stays off their path.

    settings.get("luxid", "kill_timeout") -> 30
"""

import os

from qganeti import errors, paths

DEFAULTS_FILE = os.path.join(paths.TREE_ETC_DIR, "qganeti.yaml")

_cache = {}


def _read(path, required):
    import yaml
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        if required:
            raise errors.OpPrereqError("Settings file %s is missing" % path,
                                       errors.ECODE_ENVIRON)
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise errors.OpPrereqError("Cannot read settings file %s: %s" % (path, err),
                                   errors.ECODE_ENVIRON)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = " (line %d)" % (where.line + 1) if where is not None else ""
        raise errors.OpPrereqError("Cannot parse settings file %s%s: %s"
                                   % (path, line, getattr(err, "problem", None) or err),
                                   errors.ECODE_ENVIRON)
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise errors.OpPrereqError("Settings file %s must map sections to key: value"
                                   " mappings" % path, errors.ECODE_ENVIRON)
    return data


def _merge(defaults, local, path):
    """DEFAULTS overridden by LOCAL; unknown keys and wrong types refused."""
    out = {section: dict(values) for section, values in defaults.items()}
    for section, values in local.items():
        if section not in out:
            raise errors.OpPrereqError("Settings file %s: unknown section '%s'"
                                       % (path, section), errors.ECODE_ENVIRON)
        for key, value in values.items():
            if key not in out[section]:
                raise errors.OpPrereqError("Settings file %s: unknown setting '%s.%s'"
                                           % (path, section, key), errors.ECODE_ENVIRON)
            default = out[section][key]
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and value >= 0
                want = "a non-negative number"
            else:
                ok = isinstance(value, type(default))
                want = "a %s" % type(default).__name__
            if not ok:
                raise errors.OpPrereqError("Settings file %s: %s.%s must be %s, not %r"
                                           % (path, section, key, want, value),
                                           errors.ECODE_ENVIRON)
            out[section][key] = value
    return out


def load():
    """Every setting, {section: {key: value}} (read once per process and root)."""
    local_path = paths.settings_file()
    if local_path not in _cache:
        _cache[local_path] = _merge(_read(DEFAULTS_FILE, True), _read(local_path, False),
                                    local_path)
    return _cache[local_path]


def get(section, key):
    return load()[section][key]
