"""Ganeti's nice sort (Haskell's niceSortKey), shared by queries and ssconf."""

from qganeti import nicesort, query, ssconf


def test_digit_runs_compare_as_numbers():
    assert nicesort.nice_sort(["inst10", "inst2", "inst1", "a", "inst1b"]) == \
        ["a", "inst1", "inst1b", "inst2", "inst10"]


def test_a_leading_number_sorts_before_text_as_haskell_left_before_right():
    assert nicesort.nice_sort(["web1", "10b", "2b", "b", "2"]) == \
        ["2", "2b", "10b", "b", "web1"]


def test_queries_and_ssconf_sort_alike():
    assert query.nice_key is nicesort.nice_key is ssconf.nice_key
