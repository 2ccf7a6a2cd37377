"""Word-level diff between an original and a perturbed text, as data (the template renders it).

Segments are ``(op, text)`` with op in ``equal``, ``del`` (only in the original) and ``ins`` (only in the
perturbed text). Nothing here produces HTML, so untrusted text is only ever escaped by the template engine.
"""

from __future__ import annotations

import difflib

#: Longer texts are cut (with a marker) so one pathological record cannot blow up the page.
MAX_CHARS = 2000


def clip(text: object, limit: int = MAX_CHARS) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[:limit] + " \u2026 [truncated]"


def word_diff(original: object, perturbed: object) -> list[list[str]]:
    """``word_diff("the film was good", "the movie was good")`` ->
    ``[["equal", "the"], ["del", "film"], ["ins", "movie"], ["equal", "was good"]]``."""
    a, b = clip(original).split(), clip(perturbed).split()
    segments: list[list[str]] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(["equal", " ".join(a[i1:i2])])
            continue
        if i2 > i1:
            segments.append(["del", " ".join(a[i1:i2])])
        if j2 > j1:
            segments.append(["ins", " ".join(b[j1:j2])])
    return segments
