import re

import pytest

from qganeti import errors, qlang


@pytest.mark.parametrize("text, expected", [
    ('name=="foobar"', ["==", "name", "foobar"]),
    ("name=='foobar'", ["==", "name", "foobar"]),
    ('name="foobar"', ["==", "name", "foobar"]),          # legacy =
    ("valA==1 and valB==2 or valC==3",
     ["|", ["&", ["==", "valA", 1], ["==", "valB", 2]], ["==", "valC", 3]]),
    ('(name\n=="foobar") and (xyz=="va)ue" and k == 256 or x ==\t"y"\n) and mc',
     ["&", ["==", "name", "foobar"],
      ["|", ["&", ["==", "xyz", "va)ue"], ["==", "k", 256]], ["==", "x", "y"]],
      ["?", "mc"]]),
    ('(xyz=="v" or k == 256 and x == "y")',
     ["|", ["==", "xyz", "v"], ["&", ["==", "k", 256], ["==", "x", "y"]]]),
    ("valA==1 and valB==2 and valC==3",
     ["&", ["==", "valA", 1], ["==", "valB", 2], ["==", "valC", 3]]),
    ("master or field", ["|", ["?", "master"], ["?", "field"]]),
    ("mem == 128", ["==", "mem", 128]),
    ("negfield != -1", ["!=", "negfield", -1]),
    ("size > +5", [">", "size", 5]),
    ("master", ["?", "master"]),
    ("not master", ["!", ["?", "master"]]),
    ("not not master", ["!", ["!", ["?", "master"]]]),
    ("notxyz", ["?", "notxyz"]),
    ("not andxyz", ["!", ["?", "andxyz"]]),
    ("  not \torfoo", ["!", ["?", "orfoo"]]),
    ("master and not other", ["&", ["?", "master"], ["!", ["?", "other"]]]),
    ("not (master or other == 4)", ["!", ["|", ["?", "master"], ["==", "other", 4]]]),
    ("(a and b) and c", ["&", ["&", ["?", "a"], ["?", "b"]], ["?", "c"]]),
    ('some=="val\\"ue"', ["==", "some", 'val\\"ue']),
    ("123 in ips", ["=[]", "ips", 123]),
    ("99 not in ips", ["!", ["=[]", "ips", 99]]),
    ('"a" in valA and "b" not in valB',
     ["&", ["=[]", "valA", "a"], ["!", ["=[]", "valB", "b"]]]),
    ("name =~ m/test/", ["=~", "name", "test"]),
    ("name =~ m/^node.*example.com$/i", ["=~", "name", "(?i)^node.*example.com$"]),
    ("(name =~ m/^node.*example.com$/s and master) or pip =~ |^3.*|",
     ["|", ["&", ["=~", "name", "(?s)^node.*example.com$"], ["?", "master"]],
      ["=~", "pip", "^3.*"]]),
    ("name =~ m/gi/iiiisiii", ["=~", "name", "(?is)gi"]),
    ("name !~ m#test#", ["!", ["=~", "name", "test"]]),
    ("not\tname =~ m^test^", ["!", ["=~", "name", "test"]]),
    ("notname =~ m|test|", ["=~", "notname", "test"]),
    ("name =~ /a\\/b/", ["=~", "name", "a/b"]),
    ("ctime < 1234", ["<", "ctime", 1234]),
    ("ctime > 1234", [">", "ctime", 1234]),
    ("mtime <= 9999", ["<=", "mtime", 9999]),
    ("mtime >= 9999", [">=", "mtime", 9999]),
    ("disk.size/0 > 1024", [">", "disk.size/0", 1024]),
])
def test_parse_filter_builds_ganeti_structures(text, expected):
    assert qlang.parse_filter(text) == expected


def test_glob_conditions_become_dns_name_regexps():
    assert qlang.parse_filter("name =* '*.site'") == ["=~", "name", r"^[^.]*\.site(\..*)?$"]
    assert qlang.parse_filter("field !* '*.example.*'") == \
        ["!", ["=~", "field", r"^[^.]*\.example\.[^.]*(\..*)?$"]]


def test_dns_name_glob_stays_within_labels_and_allows_more_domain_parts():
    rx = re.compile(qlang.dns_name_glob_pattern("web?"))
    assert rx.match("web1")
    assert rx.match("web1.example.com")
    assert not rx.match("web12.example.com")
    assert not rx.match("aweb1")
    rx = re.compile(qlang.dns_name_glob_pattern("*.site"))
    assert rx.match("a.site")
    assert not rx.match("a.b.site")


def test_regexp_escapes_drop_the_backslash_as_ganeti_does():
    # pyparsing's QuotedString(escChar="\\") keeps only the escaped character
    assert qlang.parse_filter(r"name =~ /web\d+/") == ["=~", "name", "webd+"]


@pytest.mark.parametrize("text", [
    "#invalid!filter#", "m/x/,", "name=~m#a#g", "name=~^[^", "asdf =~ m|abc|I",
    "name =~ /foobarbaz#", "name <> value", "name => value", "name =< value",
    "a or", "(a", "foo==bar", "foo+=1", "",
    # flags may follow after blanks, as in Ganeti, so this is refused
    "name =~ /x/ and master",
])
def test_invalid_filters_raise_parse_errors_with_details(text):
    with pytest.raises(errors.QueryFilterParseError) as info:
        qlang.parse_filter(text)
    message = info.value.args[0]
    assert message.startswith("Failed to parse query filter '%s': " % text)
    details = qlang.error_details(info.value)
    assert len(details) == 3
    assert details[1].endswith("^")
    assert details[2] in message


def test_parse_error_points_at_the_failing_column():
    with pytest.raises(errors.QueryFilterParseError) as info:
        qlang.parse_filter("name <> value")
    assert info.value.args[0] == ("Failed to parse query filter 'name <> value': Expected end"
                                  " of text (at char 5), (line:1, col:6)")
    assert qlang.error_details(info.value) == [
        "name <> value", "     ^", "Expected end of text (at char 5), (line:1, col:6)"]


def test_unknown_regexp_flags_are_reported():
    with pytest.raises(errors.QueryFilterParseError) as info:
        qlang.parse_filter("name=~m#a#g")
    assert "Unknown regular expression flags: 'g'" in info.value.args[0]


def test_make_simple_filter():
    assert qlang.make_simple_filter("name", None) is None
    assert qlang.make_simple_filter("name", []) is None
    assert qlang.make_simple_filter("xyz", ["a", "b"]) == \
        ["|", ["==", "xyz", "a"], ["==", "xyz", "b"]]


def test_make_filter_without_arguments_is_none():
    assert qlang.make_filter([]) is None
    assert qlang.make_filter(None) is None


def test_make_filter_ors_plain_names():
    assert qlang.make_filter(["web1", "web2"]) == \
        ["|", ["==", "name", "web1"], ["==", "name", "web2"]]
    for name in ["node1", "n-o-d-e", "n_o_d_e", "node1.example.com", "node1.example.com."]:
        assert qlang.make_filter([name]) == ["|", ["==", "name", name]]


def test_make_filter_turns_globs_into_regexps():
    assert qlang.make_filter(["*.a", "web?.b"]) == [
        "|", ["=~", "name", qlang.dns_name_glob_pattern("*.a")],
        ["=~", "name", qlang.dns_name_glob_pattern("web?.b")]]


def test_make_filter_parses_one_argument_that_looks_like_a_filter():
    assert qlang.make_filter(["foo/bar"]) == ["?", "foo/bar"]
    assert qlang.make_filter(["foo=='bar'"]) == ["==", "foo", "bar"]
    assert qlang.make_filter(["pinst_cnt>1"]) == [">", "pinst_cnt", 1]
    assert qlang.make_filter(["field=*'*.site'"]) == \
        ["=~", "field", qlang.dns_name_glob_pattern("*.site")]
    for bad in ["foo==bar", "foo+=1"]:
        with pytest.raises(errors.QueryFilterParseError):
            qlang.make_filter([bad])


def test_make_filter_forced():
    assert qlang.make_filter(["web1"], force_filter=True) == ["?", "web1"]
    with pytest.raises(errors.QueryFilterParseError):
        qlang.make_filter(["*.site"], force_filter=True)
    for args in [None, [], ["1", "2"]]:
        with pytest.raises(errors.OpPrereqError) as info:
            qlang.make_filter(args, force_filter=True)
        assert info.value.args == ("Exactly one argument must be given as a filter",
                                   errors.ECODE_INVAL)


def test_make_filter_for_jobs_uses_numeric_ids():
    assert qlang.make_filter(["17", "4"], numeric=True) == \
        ["|", ["==", "id", 17], ["==", "id", 4]]
    with pytest.raises(errors.OpPrereqError) as info:
        qlang.make_filter(["x17"], numeric=True)
    assert info.value.args[0].startswith("Invalid job ID passed: ")
