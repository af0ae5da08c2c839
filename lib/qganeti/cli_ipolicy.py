"""Instance policy options of the gnt-* commands, and how policies are shown.

Options, with Ganeti's names, types and defaults (option lists to add to a
command's table):

    INSTANCE_POLICY_OPTS   --ipolicy-bounds-specs, --ipolicy-disk-templates,
                           --ipolicy-vcpu-ratio, --ipolicy-spindle-ratio
                           (gnt-group add/modify, gnt-cluster init/modify)
    IPOLICY_STD_SPECS_OPT  --ipolicy-std-specs (cluster only)
    SPLIT_ISPECS_OPTS      --specs-cpu-count, --specs-disk-count,
                           --specs-disk-size, --specs-mem-size,
                           --specs-nic-count (gnt-cluster init only)

from_opts(opts, group=False, fill_all=False, allowed_values=None) builds
the policy dict from whichever of these options OPTS has (Ganeti's
CreateIPolicyFromOpts; fill_all=True for gnt-cluster init,
allowed_values=["default"] for gnt-group modify). format_policy_info and
format_params_dict_info give the `info` layouts (Ganeti's FormatPolicyInfo
and FormatParamsDictInfo) and ipolicy_command the show-ispecs-cmd text.
"""

import optparse

from qganeti import cli, defaults, errors, listing

VALUE_DEFAULT = "default"
ISPECS_MINMAX_KEYS = ("min", "max")      # Ganeti prints min before max
ISPECS_PARAMETERS = ("memory-size", "cpu-count", "disk-count", "disk-size", "nic-count",
                     "spindle-use")
IPOLICY_BOUNDS_SPECS_STR = "--ipolicy-bounds-specs"
IPOLICY_STD_SPECS_STR = "--ipolicy-std-specs"


def _check_multilist_ident_keyval(option, opt, value):
    """`ident:k=v,k=v/ident:k=v//ident:...` -> [{ident: {k: v}}, ...]."""
    try:
        out = []
        for line in value.split("//"):
            pairs = {}
            for elem in line.split("/"):
                if not elem:
                    raise errors.ParameterError("Empty section in option '%s'" % opt)
                ident, values = listing.parse_ident_keyval(elem, opt, parse_prefixes=False)
                if ident in pairs:
                    raise errors.ParameterError("Duplicated parameter '%s' in parsing %s: %s"
                                                % (ident, opt, elem))
                pairs[ident] = values
            out.append(pairs)
        return out
    except errors.GenericError as exc:
        raise optparse.OptionValueError("option %s: %s" % (opt, exc))


def _check_maybefloat(option, opt, value):
    if value.lower() == VALUE_DEFAULT:
        return VALUE_DEFAULT
    try:
        return float(value)
    except ValueError:
        raise optparse.OptionValueError("option %s: invalid floating-point value: %r"
                                        % (opt, value))


class Option(cli.Option):
    TYPES = cli.Option.TYPES + ("multilistidentkeyval", "maybefloat")
    TYPE_CHECKER = dict(cli.Option.TYPE_CHECKER,
                        multilistidentkeyval=_check_multilist_ident_keyval,
                        maybefloat=_check_maybefloat)


def _specs_opt(name, dest, what, units=False):
    return Option(name, dest=dest, type="keyval", default={},
                  help="%s specs: list of key=value, where key is one of min, max, std%s"
                  % (what, " (in MB or using a unit)" if units else ""))


SPECS_MEM_SIZE_OPT = _specs_opt("--specs-mem-size", "ispecs_mem_size", "Memory size", True)
SPECS_CPU_COUNT_OPT = _specs_opt("--specs-cpu-count", "ispecs_cpu_count", "CPU count")
SPECS_DISK_COUNT_OPT = _specs_opt("--specs-disk-count", "ispecs_disk_count", "Disk count")
SPECS_DISK_SIZE_OPT = _specs_opt("--specs-disk-size", "ispecs_disk_size", "Disk size", True)
SPECS_NIC_COUNT_OPT = _specs_opt("--specs-nic-count", "ispecs_nic_count", "NIC count")

IPOLICY_BOUNDS_SPECS_OPT = Option(IPOLICY_BOUNDS_SPECS_STR, dest="ipolicy_bounds_specs",
                                  type="multilistidentkeyval", default=None,
                                  help="Complete instance specs limits")
IPOLICY_STD_SPECS_OPT = Option(IPOLICY_STD_SPECS_STR, dest="ipolicy_std_specs",
                               type="keyval", default=None,
                               help="Complete standard instance specs")
IPOLICY_DISK_TEMPLATES = Option("--ipolicy-disk-templates", dest="ipolicy_disk_templates",
                                type="list", default=None,
                                help="Comma-separated list of enabled disk templates")
IPOLICY_VCPU_RATIO = Option("--ipolicy-vcpu-ratio", dest="ipolicy_vcpu_ratio",
                            type="maybefloat", default=None,
                            help="The maximum allowed vcpu-to-cpu ratio")
IPOLICY_SPINDLE_RATIO = Option("--ipolicy-spindle-ratio", dest="ipolicy_spindle_ratio",
                               type="maybefloat", default=None,
                               help="The maximum allowed instances to spindle ratio")

INSTANCE_POLICY_OPTS = [IPOLICY_BOUNDS_SPECS_OPT, IPOLICY_DISK_TEMPLATES, IPOLICY_VCPU_RATIO,
                        IPOLICY_SPINDLE_RATIO]
SPLIT_ISPECS_OPTS = [SPECS_CPU_COUNT_OPT, SPECS_DISK_COUNT_OPT, SPECS_DISK_SIZE_OPT,
                     SPECS_MEM_SIZE_OPT, SPECS_NIC_COUNT_OPT]
#: everything gnt-cluster init offers (modify: INSTANCE_POLICY_OPTS + std specs)
CLUSTER_OPTS = INSTANCE_POLICY_OPTS + [IPOLICY_STD_SPECS_OPT] + SPLIT_ISPECS_OPTS


# -- building a policy from the options (Ganeti's CreateIPolicyFromOpts)

def _parse_unit(value):
    return listing.parse_unit(value)


def _maybe_parse_unit(elements):
    return dict((key, value if value == VALUE_DEFAULT else _parse_unit(value))
                for key, value in elements.items())


def _force_ints(params, keys):
    """Ganeti's ForceDictType with integer values (errors.TypeEnforcementError)."""
    out = {}
    for key, value in params.items():
        if key not in keys:
            raise errors.TypeEnforcementError("Unknown parameter '%s'" % key)
        try:
            out[key] = int(value)
        except (TypeError, ValueError):
            raise errors.TypeEnforcementError("'%s' (value %s) is not a valid integer"
                                              % (key, value))
    return out


def _from_split_opts(ipolicy, mem_size, cpu_count, disk_count, disk_size, nic_count,
                     group_ipolicy, fill_all):
    try:
        if mem_size:
            mem_size = _maybe_parse_unit(mem_size)
        if disk_size:
            disk_size = _maybe_parse_unit(disk_size)
    except (TypeError, ValueError, errors.UnitParseError) as err:
        raise errors.OpPrereqError("Invalid disk (%s) or memory (%s) size in policy: %s"
                                   % (disk_size, mem_size, err), errors.ECODE_INVAL)
    transposed = {"memory-size": mem_size or {}, "cpu-count": cpu_count or {},
                  "disk-count": disk_count or {}, "disk-size": disk_size or {},
                  "nic-count": nic_count or {}}
    keys = ("min", "max") if group_ipolicy else ("min", "max", "std")
    specs = {"min": {}, "max": {}, "std": {}}
    for name, values in transposed.items():
        for key, value in _force_ints(values, keys).items():
            specs[key][name] = value
    minmax = {}
    for key in ISPECS_MINMAX_KEYS:
        base = defaults.IPOLICY_DEFAULTS["minmax"][0][key] if fill_all else {}
        minmax[key] = defaults.fill_dict(base, specs[key])
    ipolicy["minmax"] = [minmax]
    ipolicy["std"] = (defaults.fill_dict(defaults.IPOLICY_DEFAULTS["std"], specs["std"])
                      if fill_all else specs["std"])


def _parse_spec_unit(spec, keyname):
    out = dict(spec)
    for key in ("disk-size", "memory-size"):
        if key in out:
            try:
                out[key] = _parse_unit(out[key])
            except (TypeError, ValueError, errors.UnitParseError) as err:
                raise errors.OpPrereqError("Invalid parameter %s (%s) in %s instance specs: %s"
                                           % (key, out[key], keyname, err),
                                           errors.ECODE_INVAL)
    return out


def _parse_ispec(spec, keyname, required):
    out = defaults.check_params("ispec", _parse_spec_unit(spec, keyname))
    missing = [p for p in ISPECS_PARAMETERS if p not in out]
    if required and missing:
        raise errors.OpPrereqError("Missing parameters in ipolicy spec %s: %s"
                                   % (keyname, ", ".join(missing)), errors.ECODE_INVAL)
    return out


def _from_full_opts(ipolicy, minmax_ispecs, std_ispecs, group_ipolicy, allowed_values):
    found = None
    if (minmax_ispecs and allowed_values and len(minmax_ispecs) == 1
            and len(minmax_ispecs[0]) == 1):
        ((key, spec),) = minmax_ispecs[0].items()
        if key in allowed_values and not spec:
            found = key
    if found is not None:
        ipolicy["minmax"] = found
    elif minmax_ispecs is not None:
        out = []
        for pair in minmax_ispecs:
            parsed = {}
            for key, spec in pair.items():
                if key not in ISPECS_MINMAX_KEYS:
                    raise errors.OpPrereqError("Invalid key in bounds instance"
                                               " specifications: %s" % key, errors.ECODE_INVAL)
                parsed[key] = _parse_ispec(spec, key, True)
            out.append(parsed)
        ipolicy["minmax"] = out
    if std_ispecs is not None:
        ipolicy["std"] = _parse_ispec(std_ispecs, "std", False)


def create_ipolicy(ispecs_mem_size=None, ispecs_cpu_count=None, ispecs_disk_count=None,
                   ispecs_disk_size=None, ispecs_nic_count=None, minmax_ispecs=None,
                   std_ispecs=None, ipolicy_disk_templates=None, ipolicy_vcpu_ratio=None,
                   ipolicy_spindle_ratio=None, group_ipolicy=False, allowed_values=None,
                   fill_all=False):
    """Ganeti's CreateIPolicyFromOpts, argument for argument."""
    split = (ispecs_mem_size or ispecs_cpu_count or ispecs_disk_count or ispecs_disk_size
             or ispecs_nic_count)
    if split and (minmax_ispecs is not None or std_ispecs is not None):
        raise errors.OpPrereqError("A --specs-xxx option cannot be specified together with"
                                   " any --ipolicy-xxx-specs option", errors.ECODE_INVAL)
    if std_ispecs is not None and group_ipolicy:
        raise errors.OpPrereqError("std cannot appear in group instance specs",
                                   errors.ECODE_INVAL)
    ipolicy = {}
    if split:
        _from_split_opts(ipolicy, ispecs_mem_size, ispecs_cpu_count, ispecs_disk_count,
                         ispecs_disk_size, ispecs_nic_count, group_ipolicy, fill_all)
    elif minmax_ispecs is not None or std_ispecs is not None:
        _from_full_opts(ipolicy, minmax_ispecs, std_ispecs, group_ipolicy, allowed_values)
    if ipolicy_disk_templates is not None:
        if allowed_values and ipolicy_disk_templates in allowed_values:
            ipolicy["disk-templates"] = ipolicy_disk_templates
        else:
            ipolicy["disk-templates"] = list(ipolicy_disk_templates)
    if ipolicy_vcpu_ratio is not None:
        ipolicy["vcpu-ratio"] = ipolicy_vcpu_ratio
    if ipolicy_spindle_ratio is not None:
        ipolicy["spindle-ratio"] = ipolicy_spindle_ratio
    if not group_ipolicy and fill_all:
        ipolicy = defaults.fill_ipolicy(defaults.IPOLICY_DEFAULTS, ipolicy)
    return ipolicy


def from_opts(opts, group=False, fill_all=False, allowed_values=None):
    """The policy the ipolicy options in OPTS ask for ({} when none was given)."""
    get = lambda name: getattr(opts, name, None)   # noqa: E731
    return create_ipolicy(
        ispecs_mem_size=get("ispecs_mem_size"), ispecs_cpu_count=get("ispecs_cpu_count"),
        ispecs_disk_count=get("ispecs_disk_count"), ispecs_disk_size=get("ispecs_disk_size"),
        ispecs_nic_count=get("ispecs_nic_count"), minmax_ispecs=get("ipolicy_bounds_specs"),
        std_ispecs=get("ipolicy_std_specs"),
        ipolicy_disk_templates=get("ipolicy_disk_templates"),
        ipolicy_vcpu_ratio=get("ipolicy_vcpu_ratio"),
        ipolicy_spindle_ratio=get("ipolicy_spindle_ratio"),
        group_ipolicy=group, allowed_values=allowed_values, fill_all=fill_all)


# -- showing a policy

def format_params_dict_info(own, actual):
    """Ganeti's FormatParamsDictInfo: own values, or `default (value)`."""
    out = {}
    for key, data in actual.items():
        if isinstance(data, dict) and data:
            out[key] = format_params_dict_info(own.get(key, {}) or {}, data)
        else:
            out[key] = str(own.get(key, "default (%s)" % (data,)))
    return out


def _list_info_default(data, default):
    if data is not None:
        return ", ".join(data)
    return "default (%s)" % ", ".join(default)


def format_policy_info(custom, effective, iscluster):
    """Ganeti's FormatPolicyInfo: pairs for cli.print_generic_info."""
    if iscluster:
        effective = custom
    minmax_out = []
    custom_minmax = custom.get("minmax")
    source = custom_minmax if custom_minmax else effective.get("minmax", [])
    for index, minmax in enumerate(source):
        minmax_out.append([("%s/%s" % (key, index),
                            format_params_dict_info(minmax[key] if custom_minmax else {},
                                                    minmax[key]))
                           for key in ISPECS_MINMAX_KEYS])
    out = [("bounds specs", minmax_out)]
    if iscluster:
        std = custom.get("std", {})
        out.append(("std", format_params_dict_info(std, std)))
    out.append(("allowed disk templates",
                _list_info_default(custom.get("disk-templates"),
                                   effective.get("disk-templates", []))))
    for key in ("vcpu-ratio", "spindle-ratio"):
        out.append((key, str(custom.get(key, "default (%s)" % (effective.get(key),)))))
    return out


def _specs_text(specs):
    return ",".join("%s=%s" % (par, val) for par, val in sorted(specs.items()))


def ipolicy_command(ipolicy, isgroup):
    """Ganeti's PrintIPolicyCommand: the options that recreate IPOLICY's specs."""
    buf = []
    if not isgroup:
        std = ipolicy.get("std")
        if std:
            buf.append(" %s %s" % (IPOLICY_STD_SPECS_STR, _specs_text(std)))
    first = True
    for minmax in ipolicy.get("minmax", []):
        mins, maxs = minmax.get("min"), minmax.get("max")
        if mins and maxs:
            buf.append(" %s " % IPOLICY_BOUNDS_SPECS_STR if first else "//")
            first = False
            buf.append("min:%s/max:%s" % (_specs_text(mins), _specs_text(maxs)))
    return "".join(buf)
