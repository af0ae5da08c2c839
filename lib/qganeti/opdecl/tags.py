"""Opcode declarations: tags."""

from qganeti import optypes as t
from qganeti.opcodes import REQUIRED, Param, declare

_TAG_KIND = Param("kind", REQUIRED, t.ElemOf(["cluster", "instance", "node", "nodegroup", "network"]),
                  "Tag kind")
_TAG_NAME = Param("name", None, t.Maybe(t.String), "Name of object to retrieve tags from")
_TAGS = Param("tags", REQUIRED, t.ListOf(t.String), "List of tag names")

declare("OP_TAGS_GET", [
    _TAG_KIND, _TAG_NAME,
    Param("use_locking", False, t.Bool, "Whether to use synchronization"),
], dsc_field="name", doc="Returns the tags of the given object.")


declare("OP_TAGS_SEARCH", [
    Param("pattern", REQUIRED, t.NonEmptyString, "Search pattern (regular expression)"),
], dsc_field="pattern", doc="Searches the tags in the cluster for a given pattern.")


declare("OP_TAGS_SET", [_TAG_KIND, _TAGS, _TAG_NAME],
        doc="Add a list of tags on a given object.")


declare("OP_TAGS_DEL", [_TAG_KIND, _TAGS, _TAG_NAME],
        doc="Remove a list of tags from a given object.")
