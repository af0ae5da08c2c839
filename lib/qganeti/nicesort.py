"""Ganeti's nice sort of names (Haskell's niceSortKey, used by queries and
ssconf alike): digit runs compare as numbers."""

_NICE_SPLIT = None
_NICE_CACHE = {}


def nice_key(name):
    """Ganeti's niceSort key: digit runs compare as numbers.

    Text and number runs alternate from a leading text run, so keys compare
    run by run; a name starting with digits gets an empty leading text run,
    so it sorts before names starting with text, as in Ganeti (Haskell's
    key is [Either Integer String] with numbers Left, and Left < Right).
    Keys are cached, as luxid sorts the same names again and again.
    """
    key = _NICE_CACHE.get(name)
    if key is None:
        global _NICE_SPLIT
        if _NICE_SPLIT is None:
            import re
            _NICE_SPLIT = re.compile(r"(\d+)").split
        key = _NICE_SPLIT(name)
        if len(key) > 1:
            key[1::2] = map(int, key[1::2])
        if len(_NICE_CACHE) > 200000:
            _NICE_CACHE.clear()
        _NICE_CACHE[name] = key
    return key


def nice_sort(names):
    return sorted(names, key=nice_key)
