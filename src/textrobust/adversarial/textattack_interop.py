"""Run TextAttack attacks against our classifiers and get our :class:`AttackReport` back.

TextAttack (``pip install 'textrobust[textattack]'``; it needs ``transformers<5``) is imported lazily inside the
functions here, so importing this module costs nothing and a missing package raises
:class:`~textrobust.errors.ResourceError` only when an attack is built or run.

* :func:`make_model_wrapper` wraps anything with ``predict_proba(list[str]) -> ndarray`` (e.g.
  :class:`textrobust.models.TextClassifier`) as a ``textattack.models.wrappers.ModelWrapper``;
* :func:`run_textattack` runs a TextAttack recipe by name (``"textfooler"``, ``"deepwordbug"``, ``"pwws"``, ...)
  or an already-built ``textattack.Attack`` and converts every TextAttack result into our
  :class:`~textrobust.adversarial.results.AttackResult`, so ``report.summary()`` is comparable with
  :func:`~textrobust.adversarial.lockstep.run_attack`;
* :func:`textfooler_like_textattack` builds TextAttack's ``GreedyWordSwapWIR(wir_method="delete")`` over OUR
  neighbour lists and our TextFooler pre-transformation constraints, for a like-for-like comparison with
  :func:`textrobust.adversarial.recipes.textfooler`.

Differences that remain between the engines: TextAttack tokenises words its own way (``AttackedText.words``),
so ``modified_indices`` / ``num_words`` refer to its words; it attacks one example at a time (no lockstep
batching); several TextAttack recipes download resources on ``build`` (TextFooler: counter-fitted embeddings and
USE; PWWS: NLTK WordNet), which fails offline.

Example:
    >>> report = run_textattack(clf, "deepwordbug", texts, labels)  # doctest: +SKIP
    >>> report.summary()["success_rate"]  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from textrobust.adversarial.results import AttackReport, AttackResult
from textrobust.errors import ConfigError, ResourceError

INSTALL_HINT = "pip install 'textrobust[textattack]'"

# Recipe name -> class in textattack.attack_recipes (used when textattack.attack_args is not importable).
TEXTATTACK_RECIPES: dict[str, str] = {
    "a2t": "A2TYoo2021",
    "bae": "BAEGarg2019",
    "bert_attack": "BERTAttackLi2020",
    "checklist": "CheckList2020",
    "clare": "CLARE2020",
    "deepwordbug": "DeepWordBugGao2018",
    "faster_alzantot": "FasterGeneticAlgorithmJia2019",
    "alzantot": "GeneticAlgorithmAlzantot2018",
    "hotflip": "HotFlipEbrahimi2017",
    "iga": "IGAWang2019",
    "input_reduction": "InputReductionFeng2018",
    "kuleshov": "Kuleshov2017",
    "pruthi": "Pruthi2019",
    "pso": "PSOZang2020",
    "pwws": "PWWSRen2019",
    "textbugger": "TextBuggerLi2018",
    "textfooler": "TextFoolerJin2019",
}


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip() and not set(ln.strip()) <= {"*"}]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def require_textattack() -> Any:
    """Import textattack or raise a ResourceError that says how to install it."""
    try:
        return importlib.import_module("textattack")
    except ImportError as exc:
        raise ResourceError(
            f"the TextAttack engine needs the textattack package ({exc}); install it with: {INSTALL_HINT} "
            "(it requires transformers<5, so use a separate environment)"
        ) from exc
    except LookupError as exc:  # NLTK data (stopwords) missing at import time
        raise ResourceError(
            f"textattack is installed but could not load NLTK data at import ({_first_line(exc)}); "
            "unzip the NLTK 'stopwords' package into <dir>/corpora/, make it private (chmod -R go-w <dir>; "
            "nltk >= 3.10 refuses group/world-writable data) and set NLTK_DATA=<dir>"
        ) from exc


_WRAPPER_CLASS: Any = None


def _wrapper_class() -> Any:
    global _WRAPPER_CLASS
    if _WRAPPER_CLASS is None:
        require_textattack()
        from textattack.models.wrappers import ModelWrapper

        class PredictProbaWrapper(ModelWrapper):
            """A ``textattack`` model wrapper around any ``predict_proba(list[str]) -> ndarray[n, k]``."""

            def __init__(self, model: Any, batch_size: int | None = None) -> None:
                if not hasattr(model, "predict_proba"):
                    raise ConfigError(f"expected a model with predict_proba(texts), got {type(model).__name__}")
                self.model = model
                self.batch_size = batch_size
                self.calls = 0
                self.texts = 0

            def __call__(self, text_input_list: list[Any], **kwargs: Any) -> np.ndarray:
                texts = [t if isinstance(t, str) else " ".join(map(str, t)) for t in text_input_list]
                kw = {} if self.batch_size is None else {"batch_size": self.batch_size}
                self.calls += 1
                self.texts += len(texts)
                return np.asarray(self.model.predict_proba(texts, **kw), dtype=np.float32)

        _WRAPPER_CLASS = PredictProbaWrapper
    return _WRAPPER_CLASS


def make_model_wrapper(model: Any, batch_size: int | None = None) -> Any:
    """A ``textattack.models.wrappers.ModelWrapper`` around ``model.predict_proba`` (returned as is when
    ``model`` already is a TextAttack wrapper)."""
    ta = require_textattack()
    if isinstance(model, ta.models.wrappers.ModelWrapper):
        return model
    return _wrapper_class()(model, batch_size)


def _recipe_class(name: str) -> Any:
    require_textattack()
    key = name.lower().replace("-", "_")
    path = None
    try:
        from textattack.attack_args import ATTACK_RECIPE_NAMES

        path = ATTACK_RECIPE_NAMES.get(key) or ATTACK_RECIPE_NAMES.get(key.replace("_", "-"))
    except ImportError:  # pragma: no cover - older/newer layouts
        pass
    if path is None and key in TEXTATTACK_RECIPES:
        path = f"textattack.attack_recipes.{TEXTATTACK_RECIPES[key]}"
    if path is None:
        raise ConfigError(f"unknown TextAttack recipe {name!r}; known: {', '.join(sorted(TEXTATTACK_RECIPES))}")
    module, _, cls = path.rpartition(".")
    return getattr(importlib.import_module(module), cls)


def build_textattack(recipe: str, model: Any, *, model_batch_size: int | None = None) -> Any:
    """Build a TextAttack recipe (e.g. ``"deepwordbug"``) around ``model``; download failures (TextAttack fetches
    embeddings / USE / WordNet on ``build`` for some recipes) become a :class:`ResourceError`."""
    cls = _recipe_class(recipe)
    wrapper = make_model_wrapper(model, model_batch_size)
    try:
        return cls.build(wrapper)
    except (OSError, LookupError, ConnectionError) as exc:
        raise ResourceError(
            f"TextAttack recipe {recipe!r} could not load its resources ({_first_line(exc)}); it downloads them "
            "on first use, which needs network "
            "access (or a filled ~/.cache/textattack)"
        ) from exc


def _label_index(model: Any, label: Any) -> int:
    from textrobust.data.labels import label_index

    return label_index(label, list(getattr(model, "labels", []) or []), where="run_textattack")


def _probs(goal_result: Any) -> list[float]:
    raw = goal_result.raw_output
    raw = raw.detach().cpu().numpy() if hasattr(raw, "detach") else np.asarray(raw)
    return [float(x) for x in np.ravel(raw)]


def convert_result(index: int, result: Any, label: int, query_budget: float | None = None) -> AttackResult:
    """One TextAttack ``AttackResult`` -> our :class:`AttackResult`.

    Status: Successful -> ``succeeded``; Skipped -> ``skipped``; Failed -> ``failed``, or ``budget_exhausted``
    when it used the whole query budget; Maximized -> ``succeeded`` if the prediction changed, else ``failed``.
    """
    from textattack.attack_results import (
        FailedAttackResult,
        MaximizedAttackResult,
        SkippedAttackResult,
        SuccessfulAttackResult,
    )

    orig, pert = result.original_result, result.perturbed_result
    orig_probs, pert_probs = _probs(orig), _probs(pert)
    if isinstance(result, SkippedAttackResult):
        status = "skipped"
    elif isinstance(result, SuccessfulAttackResult):
        status = "succeeded"
    elif isinstance(result, MaximizedAttackResult):
        status = "succeeded" if int(np.argmax(pert_probs)) != label else "failed"
    elif isinstance(result, FailedAttackResult):
        budget_hit = query_budget is not None and np.isfinite(query_budget) and pert.num_queries >= query_budget
        status = "budget_exhausted" if budget_hit else "failed"
    else:  # pragma: no cover - future result types
        status = "failed"
    text = pert.attacked_text if status != "skipped" else orig.attacked_text
    modified = sorted(int(i) for i in text.attack_attrs.get("modified_indices", ())) if status != "skipped" else []
    return AttackResult(
        index=index,
        original_text=orig.attacked_text.text,
        perturbed_text=text.text,
        label=label,
        original_pred=int(np.argmax(orig_probs)),
        perturbed_pred=int(np.argmax(pert_probs)),
        original_probs=orig_probs,
        perturbed_probs=pert_probs,
        modified_indices=modified,
        num_words=len(orig.attacked_text.words),
        num_queries=int(pert.num_queries),
        status=status,
    )


def run_textattack(
    model: Any,
    recipe_or_attack: Any,
    texts: Sequence[str],
    labels: Sequence[Any],
    *,
    query_budget: int | None = None,
    progress: bool = True,
    model_batch_size: int | None = None,
) -> AttackReport:
    """Attack every ``(text, label)`` with TextAttack and return our :class:`AttackReport`.

    ``recipe_or_attack`` is a TextAttack recipe name (see :data:`TEXTATTACK_RECIPES`) or a built
    ``textattack.Attack`` (whose goal function must wrap ``model``). ``query_budget`` sets the goal function's
    budget (unique model queries per example, the original included, as TextAttack counts them).
    ``model_batch_size`` is TextAttack's goal-function batch size. Examples run one at a time (TextAttack's
    loop); ``report.extra`` records the engine and the model calls.

    Example:
        >>> report = run_textattack(clf, "deepwordbug", texts, labels)  # doctest: +SKIP
    """
    ta = require_textattack()
    if len(texts) != len(labels):
        raise ConfigError(f"texts and labels differ in length ({len(texts)} vs {len(labels)})")
    if query_budget is not None and query_budget < 1:
        raise ConfigError(f"query_budget must be >= 1 (the original text is one query), got {query_budget}")
    if isinstance(recipe_or_attack, str):
        attack = build_textattack(recipe_or_attack, model, model_batch_size=model_batch_size)
        name = f"textattack:{recipe_or_attack}"
    elif isinstance(recipe_or_attack, ta.Attack):
        attack = recipe_or_attack
        name = "textattack:" + getattr(attack, "_textrobust_name", type(attack.search_method).__name__)
    else:
        raise ConfigError(
            f"expected a TextAttack recipe name or a textattack.Attack, got {type(recipe_or_attack).__name__}"
        )
    goal = attack.goal_function
    if query_budget is not None:
        goal.query_budget = query_budget
    if model_batch_size is not None:
        goal.batch_size = model_batch_size
    wrapper = goal.model
    calls0, texts0 = getattr(wrapper, "calls", 0), getattr(wrapper, "texts", 0)
    ys = [_label_index(model, y) for y in labels]
    from textrobust.progress import Bar

    results: list[AttackResult] = []
    start = time.perf_counter()
    with Bar(f"attack {name}", total=len(texts), unit="examples", enabled=progress) as bar:
        for i, (text, y) in enumerate(zip(texts, ys, strict=True)):
            res = attack.attack(text, y)
            results.append(convert_result(i, res, y, goal.query_budget))
            bar.advance()
    elapsed = time.perf_counter() - start
    return AttackReport(
        results,
        elapsed,
        name,
        getattr(wrapper, "calls", 0) - calls0,
        getattr(wrapper, "texts", 0) - texts0,
        extra={"engine": "textattack"},
    )


def _word_swap_class() -> Any:
    require_textattack()
    from textattack.transformations import WordSwap
    from textattack.transformations.word_swaps.word_swap_embedding import recover_word_case

    from textrobust.adversarial.text import is_word
    from textrobust.adversarial.transformations import as_source

    class WordSwapNeighbours(WordSwap):
        """Swap a word for up to ``max_candidates`` of its neighbours from a ``word -> [neighbours]`` mapping
        (or a synonym source); lower-case lookup, case copied back, as our ``WordSwapSource``."""

        def __init__(self, neighbours: Any, max_candidates: int = 50) -> None:
            super().__init__()
            self.source = as_source(neighbours)
            self.max_candidates = max_candidates

        def _get_replacement_words(self, word: str) -> list[str]:
            lower = word.lower()
            seen, out = {lower}, []
            for cand in self.source.synonyms(lower):
                c = cand.lower()
                if c in seen or not is_word(c):
                    continue
                seen.add(c)
                out.append(recover_word_case(c, word))
                if len(out) >= self.max_candidates:
                    break
            return out

        def extra_repr_keys(self) -> list[str]:
            return ["max_candidates"]

    return WordSwapNeighbours


def _lowercase_stopwords_class() -> Any:
    from textattack.constraints.pre_transformation import StopwordModification

    class LowercaseStopwordModification(StopwordModification):
        """TextAttack's ``StopwordModification`` compares words case-sensitively; ours (and this one) lower-case
        them first, so "The" at the start of a sentence is protected too."""

        def _get_modifiable_indices(self, current_text: Any) -> set[int]:
            return {i for i, w in enumerate(current_text.words) if w.lower() not in self.stopwords}

    return LowercaseStopwordModification


def textfooler_like_textattack(
    wrapper: Any,
    neighbours: Mapping[str, Sequence[str]] | Any,
    encoder: Any = None,
    *,
    stopwords: Iterable[str] | None = None,
    max_candidates: int = 50,
    max_words_perturbed: int | None = None,
    query_budget: int | None = None,
    model_batch_size: int = 64,
) -> Any:
    """TextAttack ``Attack`` configured like our ``textfooler`` recipe, over OUR neighbour lists.

    ``GreedyWordSwapWIR(wir_method="delete")`` + a ``WordSwap`` reading ``neighbours`` (up to ``max_candidates``)
    + ``RepeatModification`` + ``StopwordModification(stopwords)`` (case-insensitive, as ours; default: our
    default list; pass TextFooler's list for the recipe's behaviour) + ``MaxWordsPerturbed(max_num_words=...)``
    when given, untargeted goal.
    ``encoder``: ``None`` (no sentence-similarity constraint, the like-for-like setting of the comparison
    benchmark) or a TextAttack constraint (e.g. ``UniversalSentenceEncoder``/``BERT`` from
    ``textattack.constraints.semantics.sentence_encoders``) appended as is. ``wrapper`` is a TextAttack model
    wrapper or anything with ``predict_proba`` (wrapped with :func:`make_model_wrapper`).
    """
    ta = require_textattack()
    from textattack.constraints.pre_transformation import RepeatModification
    from textattack.goal_functions import UntargetedClassification
    from textattack.search_methods import GreedyWordSwapWIR

    if stopwords is None:
        from textrobust.augment.sources import DEFAULT_STOPWORDS

        stopwords = DEFAULT_STOPWORDS
    wrapper = make_model_wrapper(wrapper)
    constraints: list[Any] = [RepeatModification(), _lowercase_stopwords_class()({w.lower() for w in stopwords})]
    if max_words_perturbed is not None:
        from textattack.constraints.overlap import MaxWordsPerturbed

        constraints.append(MaxWordsPerturbed(max_num_words=max_words_perturbed))
    if encoder is not None:
        if not isinstance(encoder, ta.constraints.Constraint):
            if not callable(encoder):
                raise ConfigError(
                    "encoder must be a TextAttack constraint (e.g. UniversalSentenceEncoder(...)) or "
                    "a callable texts -> vectors such as our SentenceEncoder"
                )
            # TextFooler's USE settings around our encoder, so both engines check the same similarity.
            encoder = textattack_sentence_encoder(
                encoder,
                threshold=0.840845057,
                metric="angular",
                window_size=15,
                compare_against_original=False,
                skip_text_shorter_than_window=True,
            )
        constraints.append(encoder)
    goal = UntargetedClassification(
        wrapper, model_batch_size=model_batch_size, query_budget=float("inf") if query_budget is None else query_budget
    )
    attack = ta.Attack(
        goal, constraints, _word_swap_class()(neighbours, max_candidates), GreedyWordSwapWIR(wir_method="delete")
    )
    attack._textrobust_name = "textfooler_like"
    return attack


def _homoglyph_swap_class() -> Any:
    from textattack.transformations import WordSwap

    from textrobust.adversarial.transformations import HomoglyphSwap

    class WordSwapOurHomoglyphs(WordSwap):
        """TextAttack's ``WordSwapHomoglyphSwap`` (every position, one candidate each) over our homoglyph table:
        0.3.11 reads a data file its wheel does not ship, and the same table keeps the comparison like for like."""

        def _get_replacement_words(self, word: str) -> list[str]:
            return HomoglyphSwap().variants(word)

    return WordSwapOurHomoglyphs


def textbugger_like_textattack(
    wrapper: Any,
    neighbours: Mapping[str, Sequence[str]] | Any,
    encoder: Any,
    *,
    stopwords: Iterable[str] | None = None,
    max_candidates: int = 5,
    sim_threshold: float = 0.8,
    model_batch_size: int = 64,
) -> Any:
    """TextAttack's ``TextBuggerLi2018`` recipe with our resources, for side-by-side runs with our ``textbugger``.

    TextAttack's own character bugs (space insertion, deletion, neighbour swap; one random position each, first and
    last characters kept), homoglyphs from our table (:class:`~textrobust.adversarial.HomoglyphSwap`), up to
    ``max_candidates`` of ``neighbours`` instead of its embedding download, ``encoder`` (texts -> vectors, e.g. our
    MiniLM) in TextAttack's ``SentenceEncoder`` constraint with the recipe's USE settings (angular >= 0.8, whole
    text, against the original), ``RepeatModification``, case-insensitive stopwords, delete-one ranking.

    Example:
        >>> attack = textbugger_like_textattack(clf, neighbours, SentenceEncoder())  # doctest: +SKIP
    """
    ta = require_textattack()
    from textattack.constraints.pre_transformation import RepeatModification
    from textattack.goal_functions import UntargetedClassification
    from textattack.search_methods import GreedyWordSwapWIR
    from textattack.transformations import (
        CompositeTransformation,
        WordSwapNeighboringCharacterSwap,
        WordSwapRandomCharacterDeletion,
        WordSwapRandomCharacterInsertion,
    )

    if stopwords is None:
        from textrobust.augment.sources import DEFAULT_STOPWORDS

        stopwords = DEFAULT_STOPWORDS
    wrapper = make_model_wrapper(wrapper)
    ends = {"skip_first_char": True, "skip_last_char": True}
    transformation = CompositeTransformation(
        [
            WordSwapRandomCharacterInsertion(random_one=True, letters_to_insert=" ", **ends),
            WordSwapRandomCharacterDeletion(random_one=True, **ends),
            WordSwapNeighboringCharacterSwap(random_one=True, **ends),
            _homoglyph_swap_class()(),
            _word_swap_class()(neighbours, max_candidates),
        ]
    )
    constraints = [
        RepeatModification(),
        _lowercase_stopwords_class()({w.lower() for w in stopwords}),
        textattack_sentence_encoder(encoder, threshold=sim_threshold, metric="angular"),
    ]
    goal = UntargetedClassification(wrapper, model_batch_size=model_batch_size)
    attack = ta.Attack(goal, constraints, transformation, GreedyWordSwapWIR(wir_method="delete"))
    attack._textrobust_name = "textbugger_like"
    return attack


def textattack_sentence_encoder(encoder: Any, **kwargs: Any) -> Any:
    """A TextAttack ``SentenceEncoder`` constraint whose ``encode`` calls ``encoder`` (texts -> vectors, e.g. our
    MiniLM :class:`~textrobust.adversarial.SentenceEncoder`); ``kwargs`` go to TextAttack's constructor
    (``threshold``, ``metric``, ``window_size``, ``compare_against_original``, ``skip_text_shorter_than_window``).
    TextAttack keeps its own windowing and thresholds; only the embedding model is ours, so a comparison with
    TextAttack can use the same encoder offline (USE needs TensorFlow Hub).

    Example:
        >>> c = textattack_sentence_encoder(SentenceEncoder(), threshold=0.84, window_size=15)  # doctest: +SKIP
    """
    require_textattack()
    import torch
    from textattack.constraints.semantics.sentence_encoders import SentenceEncoder as TASentenceEncoder

    class CallableSentenceEncoder(TASentenceEncoder):
        def __init__(self) -> None:
            super().__init__(**kwargs)
            self._encoder = encoder

        def encode(self, sentences: list[str]) -> Any:
            return torch.as_tensor(np.stack([np.asarray(v, dtype=np.float32) for v in self._encoder(list(sentences))]))

    return CallableSentenceEncoder()


__all__ = [
    "INSTALL_HINT",
    "TEXTATTACK_RECIPES",
    "build_textattack",
    "convert_result",
    "make_model_wrapper",
    "run_textattack",
    "textattack_sentence_encoder",
    "textbugger_like_textattack",
    "textfooler_like_textattack",
]
