"""Instance policies: checking and changing them (Ganeti's InstancePolicy rules).

    check_policy_syntax(ipolicy, check_std)   errors.ConfigurationError if wrong
    updated_ipolicy(old, new, group_policy)   OLD changed by NEW, checked;
                                              errors.OpPrereqError as Ganeti words it
    check_vs_disk_templates(ipolicy, enabled) templates allowed but not enabled

A group policy holds only what the group overrides; a value "default" (or
an empty one) in NEW removes the group's own value. The cluster policy is
complete, and "std" must lie between some min and max.
"""

import copy

from qganeti import defaults, errors

VALUE_DEFAULT = "default"
ISPECS_MINMAX_KEYS = ("min", "max")
ISPECS_PARAMETERS = ("memory-size", "cpu-count", "disk-count", "disk-size", "nic-count",
                     "spindle-use")


def _check_ispecs(ipolicy, check_std):
    """Ganeti's InstancePolicy.CheckISpecSyntax (errors.ConfigurationError)."""
    if "minmax" not in ipolicy:
        return
    std = ipolicy.get("std")
    if check_std:
        if "std" not in ipolicy:
            raise errors.ConfigurationError("Missing key in ipolicy: std")
        _check_incomplete(std, "std")
    if not ipolicy["minmax"]:
        raise errors.ConfigurationError("Empty minmax specifications")
    std_is_good = False
    for minmax in ipolicy["minmax"]:
        missing = [k for k in ISPECS_MINMAX_KEYS if k not in minmax]
        if missing:
            raise errors.ConfigurationError("Missing instance specification: %s"
                                            % ", ".join(missing))
        for key, spec in minmax.items():
            _check_incomplete(spec, key)
        spec_ok = True
        for param in ISPECS_PARAMETERS:
            low, high = minmax["min"][param], minmax["max"][param]
            if low > high:
                raise errors.ConfigurationError("Invalid specification of min/max values"
                                                " for %s: %s/%s" % (param, low, high))
            if check_std:
                value = std.get(param, low)
                spec_ok = spec_ok and low <= value <= high
        std_is_good = std_is_good or spec_ok
    if not std_is_good:
        raise errors.ConfigurationError("Invalid std specifications")


def _check_incomplete(spec, keyname):
    missing = [p for p in ISPECS_PARAMETERS if p not in (spec or {})]
    if missing:
        raise errors.ConfigurationError("Missing instance specs parameters for %s: %s"
                                        % (keyname, ", ".join(missing)))


def check_policy_syntax(ipolicy, check_std):
    """Ganeti's InstancePolicy.CheckParameterSyntax (errors.ConfigurationError)."""
    _check_ispecs(ipolicy, check_std)
    if "disk-templates" in ipolicy:
        templates = ipolicy["disk-templates"]
        if not templates:
            raise errors.ConfigurationError("Instance policy must contain at least one disk"
                                            " template")
        wrong = sorted(set(templates) - set(defaults.DISK_TEMPLATES))
        if wrong:
            raise errors.ConfigurationError("Invalid disk template(s) %s" % ", ".join(wrong))
    for key in defaults.IPOLICY_PARAMETERS:
        if key in ipolicy:
            try:
                float(ipolicy[key])
            except (TypeError, ValueError) as err:
                raise errors.ConfigurationError("Invalid value for key '%s': '%s', error: %s"
                                                % (key, ipolicy[key], err))
    wrong = sorted(set(ipolicy) - set(defaults.IPOLICY_ALL_KEYS))
    if wrong:
        raise errors.ConfigurationError("Invalid keys in ipolicy: %s" % ", ".join(wrong))


def updated_ipolicy(old, new, group_policy=False):
    """Ganeti's GetUpdatedIPolicy: OLD with the changes of NEW (OpPrereqError)."""
    ipolicy = copy.deepcopy(old)
    for key, value in new.items():
        if key not in defaults.IPOLICY_ALL_KEYS:
            raise errors.OpPrereqError("Invalid key in new ipolicy: %s" % key,
                                       errors.ECODE_INVAL)
        if not value or value == [VALUE_DEFAULT] or value == VALUE_DEFAULT:
            if group_policy:
                ipolicy.pop(key, None)
            else:
                raise errors.OpPrereqError("Can't unset ipolicy attribute '%s' on the"
                                           " cluster'" % key, errors.ECODE_INVAL)
        elif key in defaults.IPOLICY_PARAMETERS:
            try:
                ipolicy[key] = float(value)
            except (TypeError, ValueError) as err:
                raise errors.OpPrereqError("Invalid value for attribute '%s': '%s', error: %s"
                                           % (key, value, err), errors.ECODE_INVAL)
        elif key == "minmax":
            if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
                raise errors.OpPrereqError("Invalid instance policy: minmax must be a list"
                                           " of min/max specs", errors.ECODE_INVAL)
            ipolicy[key] = [dict((k, defaults.check_params("ispec", spec))
                                 for k, spec in minmax.items()) for minmax in value]
        elif key == "std":
            if group_policy:
                raise errors.OpPrereqError("std cannot appear in group instance specs",
                                           errors.ECODE_INVAL)
            std = dict(old.get("std", {}))
            std.update(value)
            ipolicy[key] = defaults.check_params("ispec", std)
        else:
            ipolicy[key] = list(value)
    try:
        check_policy_syntax(ipolicy, not group_policy)
    except errors.ConfigurationError as err:
        raise errors.OpPrereqError("Invalid instance policy: %s" % err, errors.ECODE_INVAL)
    return ipolicy


def check_vs_disk_templates(ipolicy, enabled):
    """Ganeti's CheckIpolicyVsDiskTemplates."""
    not_enabled = sorted(set(ipolicy.get("disk-templates", [])) - set(enabled))
    if not_enabled:
        raise errors.OpPrereqError("The following disk template are allowed by the ipolicy,"
                                   " but not enabled on the cluster: %s"
                                   % ", ".join(not_enabled))
