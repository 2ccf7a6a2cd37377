"""How much an adversarial example changed its text: quality metrics, per example and aggregated.

Each metric is one class in :data:`QUALITY_METRICS` that scores ``(original, perturbed)`` pairs in batches and
returns per-example columns (OpenAttack's and TextAttack's quality metrics, after Morris et al. 2020,
"Reevaluating adversarial examples in natural language"):

* ``modification`` — ``word_mod_pct`` (words substituted, inserted or deleted, % of the original's words, from a
  word alignment) and ``char_mod_pct`` (character edit distance, % of the original's characters); free;
* ``edits`` — an edit-level summary: ``edits_word`` (whole-word swaps), ``edits_char`` (in-word character edits:
  typos, homoglyphs), ``edits_inserted``, ``edits_deleted`` and a readable ``edit_summary`` ("good→g00d (char)");
  free;
* ``similarity`` — cosine of sentence-encoder embeddings (MiniLM by default); one batched encoder pass;
* ``perplexity`` — ``ppl_original``, ``ppl_perturbed`` and ``ppl_log_ratio`` (ln of perturbed ÷ original
  perplexity: 0 unchanged, 0.69 doubled) under a local causal LM (SmolLM2 by default); opt-in (the slowest).

:data:`DEFAULT_QUALITY` are the cheap ones. :func:`check_quality` fails before any attack runs when a metric is
unknown or its model cannot be had; :func:`score_quality` builds and runs them.

Example:
    >>> cols = score_quality(["a good film"], ["a g00d film"], ["modification", "edits"])
    >>> float(cols["word_mod_pct"][0]), float(cols["char_mod_pct"][0]), cols["edit_summary"][0]
    (33.33, 18.18, 'good→g00d (char)')
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from textrobust.adversarial.constraints import levenshtein
from textrobust.errors import ConfigError
from textrobust.models.runtime import Runtime

#: The metrics computed unless asked otherwise: no model (``modification``, ``edits``) or one MiniLM pass.
DEFAULT_QUALITY = ("modification", "edits", "similarity")


def words(text: str) -> list[str]:
    return text.split()


def word_edits(original: str, perturbed: str) -> list[tuple[str, str, str]]:
    """The word-level edits turning ``original`` into ``perturbed``: ``(kind, old, new)`` with kind ``char``
    (a word changed by a few characters: edit distance at most half its length), ``word`` (another word),
    ``insert`` or ``delete``.

    Example:
        >>> word_edits("a good film", "a g00d movie !")
        [('char', 'good', 'g00d'), ('word', 'film', 'movie'), ('insert', '', '!')]
    """
    a, b = words(original), words(perturbed)
    out: list[tuple[str, str, str]] = []
    ops = difflib.SequenceMatcher(a=[w.lower() for w in a], b=[w.lower() for w in b], autojunk=False).get_opcodes()
    for op, i1, i2, j1, j2 in ops:
        if op == "equal":
            continue
        old, new = a[i1:i2], b[j1:j2]
        for k in range(max(len(old), len(new))):
            o, n = (old[k] if k < len(old) else ""), (new[k] if k < len(new) else "")
            if o and n:
                out.append(("char" if levenshtein(o.lower(), n.lower()) <= max(1, len(o) // 2) else "word", o, n))
            else:
                out.append(("delete" if o else "insert", o, n))
    return out


class QualityMetric:
    """Base of the quality metrics: ``columns`` it emits, ``check`` before any attack, ``score`` in batches."""

    name: ClassVar[str]
    what: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]

    def __init__(self, runtime: Runtime | None = None, **options: Any) -> None:
        self.runtime = runtime or Runtime()
        self.options = options

    def check(self) -> None:
        """Raise a ResourceError/ConfigError now when the metric cannot run (a missing model or package)."""

    def score(self, originals: Sequence[str], perturbed: Sequence[str]) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError


class Modification(QualityMetric):
    name = "modification"
    what = "words and characters changed (% of the original)"
    columns = ("word_mod_pct", "char_mod_pct")

    def score(self, originals: Sequence[str], perturbed: Sequence[str]) -> dict[str, Any]:
        wm, cm = [], []
        for o, p in zip(originals, perturbed, strict=True):
            n_words = max(1, len(words(o)))
            wm.append(round(100.0 * len(word_edits(o, p)) / n_words, 2))
            cm.append(round(100.0 * levenshtein(o, p) / max(1, len(o)), 2))
        return {"word_mod_pct": np.array(wm), "char_mod_pct": np.array(cm)}


class Edits(QualityMetric):
    name = "edits"
    what = "edit-level summary: whole-word swaps, in-word character edits, insertions, deletions"
    columns = ("edits_word", "edits_char", "edits_inserted", "edits_deleted", "edit_summary")

    def score(self, originals: Sequence[str], perturbed: Sequence[str]) -> dict[str, Any]:
        kinds = ("word", "char", "insert", "delete")
        counts = {k: [] for k in kinds}  # type: dict[str, list[int]]
        summary = []
        for o, p in zip(originals, perturbed, strict=True):
            edits = word_edits(o, p)
            for k in kinds:
                counts[k].append(sum(e[0] == k for e in edits))
            summary.append("; ".join(f"{old or '∅'}→{new or '∅'} ({kind})" for kind, old, new in edits))
        return {
            "edits_word": np.array(counts["word"], dtype=float),
            "edits_char": np.array(counts["char"], dtype=float),
            "edits_inserted": np.array(counts["insert"], dtype=float),
            "edits_deleted": np.array(counts["delete"], dtype=float),
            "edit_summary": summary,
        }


class Similarity(QualityMetric):
    """Options: ``encoder`` (a :class:`~textrobust.models.encoders.SentenceEncoder`, or a path / ``minilm``)."""

    name = "similarity"
    what = "sentence-encoder cosine similarity of original and perturbed text (MiniLM by default)"
    columns = ("similarity",)

    def _encoder(self) -> Any:
        from textrobust.models.encoders import SentenceEncoder

        enc = self.options.get("encoder")
        if enc is None or isinstance(enc, str):
            return SentenceEncoder(None if enc in (None, "minilm") else enc, runtime=self.runtime)
        return enc

    def check(self) -> None:
        enc = self.options.get("encoder")
        if enc is None or enc == "minilm":
            from textrobust.models.loading import minilm_path

            minilm_path()  # ResourceError naming the package when MiniLM is not installed
        elif isinstance(enc, str):
            from pathlib import Path

            if not Path(enc).expanduser().is_dir():
                raise ConfigError(
                    f"quality metric 'similarity': encoder {enc} not found; give a sentence-encoder "
                    "directory or 'minilm'"
                )

    def score(self, originals: Sequence[str], perturbed: Sequence[str]) -> dict[str, Any]:
        enc = self._encoder()
        texts = list(originals) + list(perturbed)
        # A SentenceEncoder's encode(), or any batched callable giving one vector per text (the attack backends').
        vecs = np.asarray(enc.encode(texts) if hasattr(enc, "encode") else np.stack(enc(texts)), dtype=float)
        a, b = vecs[: len(originals)], vecs[len(originals) :]
        return {"similarity": np.round(np.clip((a * b).sum(1), -1.0, 1.0), 4)}


def per_word_nll(nll: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """Summed negative log-likelihoods divided by each text's whitespace word count (at least 1): the exponent of a
    *word-level* perplexity, comparable across texts that a tokenizer splits into different numbers of tokens.

    Example:
        >>> per_word_nll(np.array([6.0, 9.0]), ["a good film", "a goood fillm"])
        array([2., 3.])
    """
    words = np.array([max(len(t.split()), 1) for t in texts], dtype=float)
    return np.asarray(nll, dtype=float) / words


class Perplexity(QualityMetric):
    """Word-level perplexity: ``exp(summed token NLL / words)``. Options: ``lm`` (a causal LM name or path, default
    ``smollm2``)."""

    name = "perplexity"
    what = "perplexity under a local causal LM (SmolLM2 by default), original and perturbed, and their log ratio"
    columns = ("ppl_original", "ppl_perturbed", "ppl_log_ratio")

    @property
    def lm_name(self) -> str:
        return str(self.options.get("lm") or "smollm2")

    def check(self) -> None:
        from pathlib import Path

        from textrobust.extras import SMOLLM2_ALIASES
        from textrobust.models.causal_lm import check_causal_lm

        name = self.lm_name
        if name.lower() not in SMOLLM2_ALIASES and not Path(name).expanduser().exists():
            raise ConfigError(
                f"quality metric 'perplexity': causal LM {name} not found; give a local model directory or smollm2"
            )
        check_causal_lm(name, "quality metric 'perplexity'")

    def score(self, originals: Sequence[str], perturbed: Sequence[str]) -> dict[str, Any]:
        from textrobust.models.causal_lm import load_causal_lm, token_nll

        lm, tok = load_causal_lm(self.lm_name, self.runtime, who="quality metric 'perplexity'")
        texts = list(originals) + list(perturbed)
        nll, _ = token_nll(lm, tok, texts, runtime=self.runtime)
        # per *word*, not per token: a typo splits a word into several tokens whose continuations are easy to
        # predict, so a per-token mean can fall when a text gets worse (per_word_nll has the example)
        mean = per_word_nll(nll, texts)
        lo, lp = mean[: len(originals)], mean[len(originals) :]
        return {
            "ppl_original": np.round(np.exp(lo), 2),
            "ppl_perturbed": np.round(np.exp(lp), 2),
            "ppl_log_ratio": np.round(lp - lo, 4),
        }


QUALITY_METRICS: dict[str, type[QualityMetric]] = {m.name: m for m in (Modification, Edits, Similarity, Perplexity)}


def build_quality(
    names: Sequence[str], runtime: Runtime | None = None, options: dict[str, dict[str, Any]] | None = None
) -> list[QualityMetric]:
    """The named metrics, built with ``runtime`` and per-metric ``options`` (``{"perplexity": {"lm": ...}}``)."""
    options = options or {}
    unknown = sorted(set(names) - set(QUALITY_METRICS)) + sorted(set(options) - set(names))
    if unknown:
        raise ConfigError(
            f"unknown quality metric(s) {unknown} (or options for a metric not asked for); "
            f"known: {', '.join(QUALITY_METRICS)}"
        )
    return [QUALITY_METRICS[n](runtime, **options.get(n, {})) for n in dict.fromkeys(names)]


def check_quality(
    names: Sequence[str], runtime: Runtime | None = None, options: dict[str, dict[str, Any]] | None = None
) -> None:
    """Unknown metrics and metrics whose model or package is absent fail now, in one line naming the metric."""
    for metric in build_quality(names, runtime, options):
        metric.check()


def score_quality(
    originals: Sequence[str],
    perturbed: Sequence[str],
    names: Sequence[str] = DEFAULT_QUALITY,
    *,
    runtime: Runtime | None = None,
    options: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Every column of the named metrics for the ``(original, perturbed)`` pairs (numbers as arrays, the edit
    summary as a list of strings).

    Example:
        >>> score_quality(["a good film"], ["a bad film"], ["modification"])["word_mod_pct"]
        array([33.33])
    """
    if len(originals) != len(perturbed):
        raise ConfigError(f"score_quality: {len(originals)} originals but {len(perturbed)} perturbed texts")
    out: dict[str, Any] = {}
    for metric in build_quality(names, runtime, options):
        if originals:
            out.update(metric.score(originals, perturbed))
        else:
            out.update({c: [] if c == "edit_summary" else np.zeros(0) for c in metric.columns})
    return out


def quality_columns(names: Sequence[str]) -> list[str]:
    """The numeric columns the named metrics emit, in order."""
    return [c for n in names for c in QUALITY_METRICS[n].columns if c != "edit_summary"]


__all__ = [
    "DEFAULT_QUALITY",
    "QUALITY_METRICS",
    "QualityMetric",
    "build_quality",
    "check_quality",
    "per_word_nll",
    "quality_columns",
    "score_quality",
    "word_edits",
]
