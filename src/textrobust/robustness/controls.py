"""Control sets that measure a validity judge: edits that flip a sentiment label and edits that keep it.

A judge is only worth its rates on edits whose effect on the label is known. From real labelled sentences (the
project's own data, e.g. MR) this builds:

* **label-flipping** edits — ``antonym`` (a sentiment word that agrees with the label swapped for its WordNet
  antonym: good → bad, interesting → uninteresting), ``negation`` (``not`` inserted after the copula before such a
  word, or a negation before a word of the opposite polarity removed: "is n't funny" → "is funny") and
  ``rewrite`` (PromptAttack-style word rewrite: the sentiment word replaced by an opposite-polarity word that is not
  its antonym, the kind of "synonym" an LLM rewrite produces: "really bad" → "really dull" for a positive text);
* **label-keeping** edits — the INV suites' ``typo`` (keyboard typos), ``contraction`` and ``punctuation``.

Flipping edits are only made where they should flip: the polarity word agrees with the text's label and the text
has no other negation. They are still rules, not annotations: a few will not flip (sarcasm, contrast); the rates
are read with that in mind. Each control comes from a different sentence within its family.

Example:
    >>> controls = build_controls(texts, labels, ["neg", "pos"], n=250, seed=0)  # doctest: +SKIP
    >>> judge_quality(build_judge("models/sst2", ["neg", "pos"]), controls)["keep"]["rate"]  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError

POSITIVE = (
    "good great excellent wonderful amazing fantastic brilliant enjoyable delightful superb lovely impressive funny "
    "clever beautiful entertaining interesting charming best fun smart witty moving fresh compelling engaging "
    "satisfying powerful memorable pleasant intelligent remarkable touching original lively unpredictable "
    "perfect strong inventive refreshing"
).split()
NEGATIVE = (
    "bad terrible awful horrible boring disappointing poor dreadful mediocre annoying dull stupid worst tedious weak "
    "pointless predictable ugly unfunny lame silly flat tiresome forgettable pretentious uninteresting unpleasant "
    "bland lifeless clumsy shallow incoherent tired sloppy"
).split()
_NEGATION = re.compile(r"\b(not|never|no|n't|cannot|nothing|hardly)\b|n't\b", re.IGNORECASE)
_COPULA = {"is", "was", "are", "were", "'s", "seems", "feels", "looks"}
_PTB_NEG = {"n't": "", "not": "", "never": ""}
KEEP_FAMILIES = ("typo", "contraction", "punctuation")
FLIP_FAMILIES = ("antonym", "negation", "rewrite")


@dataclass(frozen=True)
class Control:
    """One control item: ``text`` edited from ``original`` (gold ``label``, an index) by ``family``; ``expect`` is
    ``keep`` (the label should survive) or ``flip``."""

    original: str
    text: str
    label: int
    family: str
    expect: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def polarity_labels(label_names: Sequence[str]) -> tuple[int, int]:
    """``(negative, positive)`` label indices of a binary sentiment task; ConfigError otherwise."""
    names = [str(x).lower() for x in label_names]
    neg = [i for i, n in enumerate(names) if n.startswith("neg")]
    pos = [i for i, n in enumerate(names) if n.startswith("pos")]
    if len(names) != 2 or len(neg) != 1 or len(pos) != 1:
        raise ConfigError(
            "judge controls are sentiment edits: the labels must be one negative and one positive, "
            f"got {list(label_names)}"
        )
    return neg[0], pos[0]


def _antonyms(wn: Any) -> dict[str, str]:
    """Sentiment word -> its WordNet antonym of the opposite polarity (in the other list, or the word with a
    negating prefix: interesting -> uninteresting)."""
    out: dict[str, str] = {}
    for words, other in ((POSITIVE, set(NEGATIVE)), (NEGATIVE, set(POSITIVE))):
        for w in words:
            ants = sorted(
                {
                    a.name()
                    for s in wn.synsets(w)
                    if s.pos() in "as"
                    for lemma in s.lemmas()
                    if lemma.name() == w
                    for a in lemma.antonyms()
                }
            )
            good = [a for a in ants if a in other or a in {"un" + w, "in" + w, "dis" + w} or w in {"un" + a, "in" + a}]
            if good:
                out[w] = good[0]
    return out


def _tokens(text: str) -> list[str]:
    return text.split()


def _polar_index(tokens: list[str], words: set[str]) -> int | None:
    for i, t in enumerate(tokens):
        if t.lower() in words:
            return i
    return None


def _clear(tokens: list[str], agree: set[str], disagree: set[str], n_agree: int = 1) -> bool:
    """One sentiment word only, agreeing with the label (mixed or repeated sentiment makes a flip uncertain)."""
    low = [t.lower() for t in tokens]
    return sum(t in agree for t in low) == n_agree and not any(t in disagree for t in low)


def _flip_antonym(text: str, agree: set[str], disagree: set[str], antonyms: dict[str, str]) -> str | None:
    toks = _tokens(text)
    hits = [i for i, t in enumerate(toks) if t.lower() in agree and t.lower() in antonyms]
    if not hits or _NEGATION.search(text) or not _clear(toks, agree, disagree):
        return None
    i = hits[0]
    toks[i] = antonyms[toks[i].lower()]
    return " ".join(toks)


def _flip_negation(text: str, agree: set[str], disagree: set[str]) -> str | None:
    toks = _tokens(text)
    negs = [i for i, t in enumerate(toks) if _NEGATION.fullmatch(t.lower()) or t.lower().endswith("n't")]
    if not negs:  # insert "not" after a copula at most three words before the only word agreeing with the label
        j = _polar_index(toks, agree)
        if j is None or not _clear(toks, agree, disagree):
            return None
        cop = [i for i in range(max(0, j - 3), j) if toks[i].lower() in _COPULA]
        if not cop:
            return None
        return " ".join(toks[: cop[-1] + 1] + ["not"] + toks[cop[-1] + 1 :])
    if len(negs) != 1:
        return None
    i = negs[0]  # remove the only negation, when a word of the other polarity follows within three words
    if not any(t.lower() in disagree for t in toks[i + 1 : i + 4]) or not _clear(toks, disagree, agree):
        return None
    t = toks[i].lower()
    if t in ("n't", "not", "never"):
        out = toks[:i] + toks[i + 1 :]
        if t == "n't" and i > 0:  # PTB "ca n't" / "wo n't" -> "can" / "will"
            out[i - 1] = {"ca": "can", "wo": "will"}.get(out[i - 1].lower(), out[i - 1])
        return " ".join(out)
    if t.endswith("n't") and t not in ("can't", "won't"):
        toks[i] = toks[i][:-3]
        return " ".join(toks)
    return None


def _flip_rewrite(text: str, agree: set[str], disagree: set[str], antonyms: dict[str, str], rng: Any) -> str | None:
    toks = _tokens(text)
    j = _polar_index(toks, agree)
    if j is None or _NEGATION.search(text) or not _clear(toks, agree, disagree):
        return None
    choices = [w for w in sorted(disagree) if w != antonyms.get(toks[j].lower())]
    toks[j] = choices[int(rng.integers(len(choices)))]
    return " ".join(toks)


def build_controls(
    texts: Sequence[str],
    labels: Sequence[int],
    label_names: Sequence[str],
    *,
    n: int = 250,
    seed: int = 0,
) -> list[Control]:
    """``n`` label-flipping and ``n`` label-keeping controls (families in turn) from labelled sentences, drawn in a
    seeded order; ConfigError when the data cannot give that many.

    Example:
        >>> cs = build_controls(["the film is good ."] * 3, [1] * 3, ["neg", "pos"], n=1)  # doctest: +SKIP
    """
    from ..augment.base import parse_op
    from ..extras import wordnet
    from .suites import OPERATOR_SUITES, contraction, punctuation

    neg, pos = polarity_labels(label_names)
    polar = {neg: (set(NEGATIVE), set(POSITIVE)), pos: (set(POSITIVE), set(NEGATIVE))}
    antonyms = _antonyms(wordnet("judge controls (antonyms)"))
    typo = parse_op(OPERATOR_SUITES["typo"])
    order = np.random.default_rng(seed).permutation(len(texts))
    rng = np.random.default_rng([seed, 1])
    flips: dict[str, list[Control]] = {f: [] for f in FLIP_FAMILIES}
    keeps: dict[str, list[Control]] = {f: [] for f in KEEP_FAMILIES}
    per_flip = -(-n // len(FLIP_FAMILIES))
    per_keep = -(-n // len(KEEP_FAMILIES))
    for k, i in enumerate(order):
        text, y = str(texts[i]), int(labels[i])
        if y not in polar or len(text.split()) < 3:
            continue
        agree, disagree = polar[y]
        family = FLIP_FAMILIES[k % len(FLIP_FAMILIES)]  # one use per sentence, families in turn
        if len(flips[family]) < per_flip:
            if family == "antonym":
                out = _flip_antonym(text, agree, disagree, antonyms)
            elif family == "negation":
                out = _flip_negation(text, agree, disagree)
            else:
                out = _flip_rewrite(text, agree, disagree, antonyms, rng)
            if out and out != text:
                flips[family].append(Control(text, out, y, family, "flip"))
                continue
        family = KEEP_FAMILIES[k % len(KEEP_FAMILIES)]
        if len(keeps[family]) < per_keep:
            if family == "typo":
                variants = typo([text], seed=seed + int(i))[0]
                out = variants[0] if variants else None
            else:
                out = contraction(text) if family == "contraction" else punctuation(text)
            if out and out != text:
                keeps[family].append(Control(text, out, y, family, "keep"))
        if all(len(v) >= per_flip for v in flips.values()) and all(len(v) >= per_keep for v in keeps.values()):
            break
    flip = [c for f in FLIP_FAMILIES for c in flips[f]]
    keep = [c for f in KEEP_FAMILIES for c in keeps[f]]
    if len(flip) < n or len(keep) < n:
        counts = {f: len(v) for f, v in {**flips, **keeps}.items()}
        raise ConfigError(
            f"judge controls: {len(texts)} sentences gave {len(flip)} flipping and {len(keep)} keeping edits "
            f"({counts}), fewer than n={n}; give more data (e.g. the whole MR folder) or a smaller --n"
        )
    return flip + keep


def judge_quality(judge: Any, controls: Sequence[Control], confidence: float = 0.95) -> dict[str, Any]:
    """The judge's rates on the controls, with Wilson intervals: on keeping edits the share it keeps (``keep``,
    abstentions counted as the judge's ``on_abstain`` says), on flipping edits the share it rejects (``reject``);
    the same per family, and the abstention rates.

    Example:
        >>> q = judge_quality(judge, controls)  # doctest: +SKIP
        >>> q["keep"]["rate"], q["reject"]["low"]  # doctest: +SKIP
    """
    from ..stats.binary import wilson

    verdicts = judge.judge([c.original for c in controls], [c.text for c in controls], [c.label for c in controls])
    valid = verdicts.valid(judge.params.on_abstain)

    def rate(mask: np.ndarray, hit: np.ndarray) -> dict[str, Any]:
        k, m = int((hit & mask).sum()), int(mask.sum())
        low, high = wilson(np.array(k), np.array(m), confidence)
        return {
            "rate": k / m if m else float("nan"),
            "low": float(low),
            "high": float(high),
            "count": k,
            "n": m,
            "abstained": float(verdicts.abstain[mask].mean()) if m else float("nan"),
        }

    expect = np.array([c.expect for c in controls])
    family = np.array([c.family for c in controls])
    keep, flip = expect == "keep", expect == "flip"
    return {
        "judge": judge.name,
        "keep": rate(keep, valid),
        "reject": rate(flip, ~valid),
        "families": {
            f: rate(family == f, valid if f in KEEP_FAMILIES else ~valid) for f in (*FLIP_FAMILIES, *KEEP_FAMILIES)
        },
        "verdicts": verdicts.verdicts,
        "p": [float(p) for p in verdicts.p],
    }


__all__ = ["FLIP_FAMILIES", "KEEP_FAMILIES", "Control", "build_controls", "judge_quality", "polarity_labels"]
