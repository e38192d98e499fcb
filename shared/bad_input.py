"""Bad input, and the one strict way we read JSON that somebody else wrote.

Every record or request body that cannot be processed raises `BadInput` with an error class from
the dead-letter contract (docs/dead-letters.md) and a reason that names the problem, never the
offending value. `load_json` turns whatever bytes arrive into a JSON document or a `BadInput`;
nothing else escapes it, so a hostile record can never take its batch down with it.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Our documents nest four levels deep; a document with text escapes to check may nest no deeper than this.
MAX_JSON_DEPTH = 32

_BOM = b"\xef\xbb\xbf"


class BadInput(ValueError):
    """Input that can never be processed; `error_class` names the kind, `reason` says what is wrong."""

    def __init__(self, error_class: str, reason: str) -> None:
        super().__init__(reason)
        self.error_class = error_class
        self.reason = reason


class _DuplicateKey(ValueError):
    pass


class _NotANumber(ValueError):
    pass


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        # Two readers of the same bytes could otherwise see two different events.
        raise _DuplicateKey
    return document


def _no_constants(_name: str) -> Any:
    raise _NotANumber


def load_json(value: bytes | None) -> Any:
    """The JSON document in `value`, or `BadInput("NotJson", reason)`; see the module docstring."""
    if value is None:
        raise BadInput("NotJson", "the record has no value")
    if value.startswith(_BOM):
        raise BadInput("NotJson", "not valid JSON: the value starts with a byte order mark (UTF-8 without BOM expected)")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("NotJson", "not valid JSON: the value is not UTF-8") from None
    try:
        document = json.loads(text, object_pairs_hook=_object_without_duplicate_keys, parse_constant=_no_constants)
    except json.JSONDecodeError as problem:
        # The decoder's message names a position and an expectation, never the content.
        raise BadInput("NotJson", f"not valid JSON: {problem.msg} at line {problem.lineno} column {problem.colno}") from None
    except _DuplicateKey:
        raise BadInput("NotJson", "not valid JSON: an object has the same key twice") from None
    except _NotANumber:
        raise BadInput("NotJson", "not valid JSON: NaN and Infinity are not JSON numbers") from None
    except RecursionError:
        raise BadInput("NotJson", "not valid JSON for us: nested too deeply") from None
    except ValueError:
        # Python refuses integers of more than 4,300 digits.
        raise BadInput("NotJson", "not valid JSON: a number has too many digits") from None
    # In valid JSON a NUL or a surrogate can only arrive as a \u escape: only then is the walk needed.
    if _ESCAPE_OF_CONCERN.search(value):
        check_json_text(document)
    return document


_ESCAPE_OF_CONCERN = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_SAFE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")


def check_json_text(document: Any) -> None:
    """Reject documents nested too deeply, or holding text PostgreSQL or UTF-8 cannot carry."""
    stack: list[tuple[Any, int, str]] = [(document, 1, "")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadInput("NotJson", f"not valid JSON: nested more than {MAX_JSON_DEPTH} levels deep")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key, path)
                    stack.append((child, depth + 1, _child_path(path, key)))
            else:
                stack.extend((child, depth + 1, f"{path}[{index}]") for index, child in enumerate(item))


def _child_path(path: str, key: str) -> str:
    # A key is named only when it looks like a field name: a hostile key could be a personnummer.
    name = key if _SAFE_KEY.match(key) else "?"
    return f"{path}.{name}" if path else name


def _check_text(text: str, path: str) -> None:
    where = f"{path}: " if path else ""
    if "\x00" in text:
        raise BadInput("ContractViolation", f"contract violation: {where}text holds the character U+0000")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise BadInput("ContractViolation", f"contract violation: {where}text holds a lone surrogate") from None
