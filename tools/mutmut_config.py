"""mutmut 2 configuration (copied next to the scratch copy's sources by tools/mutation.py).

The one exclusion: *message-string* mutants. mutmut's string mutation wraps a literal in XX ("must be
..." -> "XXmust be ...XX"); for the text of an error, a problem, a hint or a description that changes
nothing a program could act on, and tests that pinned every word would only mirror the code. A mutant is
skipped when all of these hold:
- it is a string or f-string mutation (not an operator, number, name or keyword one on the same line);
- the literal is human text: its text (an f-string's literal parts, not its {expressions}) has a word
  followed by a space ("must be", "refusing to") -- separators such as ", " and machine strings
  ("Remove", "CREATE_COMPLETE", "Outputs.X") never qualify; a string inside the {expression} of such a
  message (f"... got a {'list' if ...}") is part of the message;
- it sits inside a function or lambda: module-level constants (AWS reasons matched against responses,
  patterns) are behaviour and always mutated;
- it is not an operand of a comparison or ``in`` test ("given twice" in problem) -- that is behaviour too.
Every other mutant counts.
"""

from __future__ import annotations

import re
from typing import Any

_HUMAN_TEXT = re.compile(r"[A-Za-z]{2,}[.,:;!?)]? ")
_last: list[Any] = []


def pre_mutation_ast(context: Any) -> None:
    """Remember the node of the latest candidate (the last one before a mutation is the mutated node),
    with its text as it was before the mutation."""
    node = context.stack[-1]
    _last[:] = [node, _text(node)]


def _text(node: Any) -> str:
    if node.type == "fstring":
        return "".join(c.value for c in node.children if c.type == "fstring_string")
    return str(node.get_code(include_prefix=False)) if node.type == "string" else ""


def _is_message(node: Any, text: str) -> bool:
    if node.type not in ("string", "fstring"):
        return False
    parent = node.parent
    while parent is not None:
        if parent.type == "fstring" and _is_message(parent, _text(parent)):
            return True
        parent = parent.parent
    if not _HUMAN_TEXT.search(text):
        return False
    inside_function = False
    parent = node.parent
    while parent is not None:
        if parent.type == "comparison":
            return False
        if parent.type in ("funcdef", "lambdef"):
            inside_function = True
        parent = parent.parent
    return inside_function


def pre_mutation(context: Any) -> None:
    import mutmut

    probe = mutmut.Context(
        mutation_id=context.mutation_id, filename=context.filename, dict_synonyms=context.dict_synonyms
    )
    _last.clear()
    mutmut.mutate(probe)
    if _last and _is_message(_last[0], _last[1]):
        context.skip = True
