"""Every `noqa` and `type: ignore` left in the code names what it silences and says why (checked on the source)."""

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ["shared", "services", "reko", "tests", "bench"]

SUPPRESSION = re.compile(r"#\s*(noqa|type:\s*ignore)\b", re.IGNORECASE)
# A noqa names its codes, then " - why" (or "  # why"); a type ignore names its codes, then "  # why: ...".
NOQA_WITH_REASON = re.compile(r"#\s*noqa:\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*\s+(?:-|#)\s*\S")
IGNORE_WITH_REASON = re.compile(r"#\s*type:\s*ignore\[[a-z0-9_-]+(?:\s*,\s*[a-z0-9_-]+)*\]\s+#\s*\S")


def suppressions_without_reason(source: str) -> list[tuple[int, str]]:
    """(line, comment) of each suppression comment that names no code or gives no reason."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT or not SUPPRESSION.search(token.string):
            continue
        comment = token.string
        if not (NOQA_WITH_REASON.search(comment) or IGNORE_WITH_REASON.search(comment)):
            found.append((token.start[0], comment))
    return found


def test_a_suppression_without_code_or_reason_is_found():
    source = (
        "a = f(x)  # type: ignore\n"
        "b = f(x)  # type: ignore[arg-type]\n"
        "c = f(x)  # noqa: B006\n"
        "d = f(x)  # noqa\n"
        "e = f(x)  # type: ignore[arg-type]  # why: the stand-in has what the router uses\n"
        "g = f(x)  # noqa: B006 - FastAPI copies the default\n"
        "h = '# noqa'\n"
    )
    assert [line for line, _ in suppressions_without_reason(source)] == [1, 2, 3, 4]


def test_every_noqa_and_type_ignore_in_the_code_says_why():
    missing = [
        f"{path.relative_to(ROOT)}:{line}: {comment}"
        for folder in CHECKED
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, comment in suppressions_without_reason(path.read_text(encoding="utf-8"))
    ]
    assert missing == []
