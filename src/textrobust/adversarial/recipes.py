"""Attack recipes: plain functions ``recipe(model, **resources) -> Attack``, each after one paper.

Parameters follow the papers as TextAttack's recipes encode them; every docstring lists where we deviate. The
common deviations, forced by what runs offline here:

* the part-of-speech constraint of TextFooler, BAE and A2T is off by default (results stay comparable with
  runs made before it existed); opt in with ``pos="spacy"`` (spaCy's tagger in context, batched; the ``pos``
  extra), ``pos="nltk"`` (TextAttack's tagger, needs NLTK's tagger data),
  ``pos="lexicon"`` (offline: possible-POS sets from ``pos_lexicon``, OEWN by default) or a callable tagger,
  see :class:`~textrobust.adversarial.constraints.PartOfSpeech`; candidates come from a POS-blind source;
* the sentence encoder is whatever ``encoder=`` you pass (MiniLM via :class:`SentenceEncoder` here) instead of
  USE / SBERT, so the similarity thresholds, tuned for those encoders, are approximate; all are configurable;
* the default stopword list is :data:`textrobust.augment.sources.DEFAULT_STOPWORDS` (pass ``stopwords=`` for
  TextFooler's list, e.g. ``load_resources(["stopwords"])``).

``RECIPES`` maps a name to its builder and the resources it needs; a missing resource raises
:class:`~textrobust.errors.ResourceError` naming it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from textrobust.adversarial.attack import Attack
from textrobust.adversarial.constraints import (
    LevenshteinDistance,
    MaxWordsPerturbed,
    PartOfSpeech,
    RepeatModification,
    SentenceSimilarity,
    StopwordModification,
    WordEmbeddingCosine,
)
from textrobust.adversarial.goals import LabelFlip, UntargetedClassification
from textrobust.adversarial.resources import RESOURCES, missing
from textrobust.adversarial.search import BeamSearch, GreedyWordSwapWIR
from textrobust.adversarial.transformations import (
    CharEdits,
    CompositeTransformation,
    GradientWordSwap,
    HomoglyphSwap,
    MaskedLMSwap,
    WordSwapSource,
)
from textrobust.adversarial.zh import zh_char, zh_word
from textrobust.errors import ConfigError


def _stop(stopwords: Iterable[str] | None) -> StopwordModification:
    if stopwords is None:
        from textrobust.augment.sources import DEFAULT_STOPWORDS

        stopwords = DEFAULT_STOPWORDS
    return StopwordModification(stopwords)


def _need(recipe: str, **resources: Any) -> None:
    for name, value in resources.items():
        if value is None:
            raise missing(recipe, name)


def _pos(pos: Any, pos_lexicon: Any, allow_verb_noun_swap: bool) -> list[PartOfSpeech]:
    """The opt-in POS constraint: ``pos`` is None (off), "spacy", "nltk", "lexicon", a callable tagger or a
    constraint."""
    if pos is None:
        return []
    if isinstance(pos, PartOfSpeech):
        return [pos]
    if isinstance(pos, str) and pos == "lexicon":
        return [PartOfSpeech("lexicon", lexicon=pos_lexicon, allow_verb_noun_swap=allow_verb_noun_swap)]
    if pos_lexicon is not None:
        raise ConfigError(f"pos_lexicon= is only used with pos='lexicon', got pos={pos!r}")
    return [PartOfSpeech(pos, allow_verb_noun_swap=allow_verb_noun_swap)]


def textfooler(
    model: Any,
    *,
    neighbours: Any = None,
    encoder: Any = None,
    stopwords: Iterable[str] | None = None,
    vectors: Mapping[str, np.ndarray] | None = None,
    max_candidates: int = 50,
    sim_threshold: float = 0.840845057,
    window_size: int | None = 15,
    pos: Any = None,
    pos_lexicon: Any = None,
) -> Attack:
    """TextFooler — Jin, Jin, Zhou & Szolovits (2020), "Is BERT Really Robust?", AAAI.

    Delete-one word ranking, greedy swaps with up to 50 counter-fitted neighbours, stopwords and repeats
    blocked, sentence similarity (angular, threshold 0.8408) on a 15-word window around the swapped word,
    compared with the previous text, windows skipped for texts shorter than 15 words (as TextAttack).

    Deviations: ``neighbours`` is a precomputed neighbour list (``counterfitted_neighbors.json``: up to 8
    counter-fitted neighbours per word) rather than the top 50 by cosine >= 0.5, so the word-embedding cosine
    check applies only when ``vectors`` are given; the POS check (nouns and verbs interchangeable) is off unless
    ``pos=`` is given ("spacy", "nltk", "lexicon" with ``pos_lexicon``, or a callable tagger); ``encoder`` replaces USE.
    """
    _need("textfooler", neighbours=neighbours, encoder=encoder)
    post: list[Any] = []
    if vectors is not None:
        post.append(WordEmbeddingCosine(vectors, min_cos=0.5))
    post.extend(_pos(pos, pos_lexicon, allow_verb_noun_swap=True))
    post.append(
        SentenceSimilarity(
            encoder,
            threshold=sim_threshold,
            metric="angular",
            window_size=window_size,
            compare_against_original=False,
            skip_shorter_than_window=True,
        )
    )
    return Attack(
        model,
        WordSwapSource(neighbours, max_candidates),
        GreedyWordSwapWIR("delete"),
        UntargetedClassification(),
        (RepeatModification(), _stop(stopwords)),
        tuple(post),
        "textfooler",
    )


def pwws(
    model: Any, *, lexicon: Any = None, stopwords: Iterable[str] | None = None, max_candidates: int = 50
) -> Attack:
    """PWWS — Ren, Deng, He & Che (2019), "Generating Natural Language Adversarial Examples through Probability
    Weighted Word Saliency", ACL.

    Words ranked by softmax(saliency from replacing the word with [UNK]) x (best swap's gain), then swapped
    greedily with WordNet synonyms; stopwords and repeats blocked; no further constraint.

    ``lexicon`` is the synonym source: ``load_source("wordnet")`` (Princeton WordNet 3.0 through NLTK's reader,
    as the paper and TextAttack; ``load_resources(["lexicon"])`` builds it) or any lexicon, e.g. the Open English
    WordNet export ``oewn_lexicon.json`` when WordNet is not installed.

    Deviations: multi-word synonyms dropped (as TextAttack), at most ``max_candidates`` per word; antonyms of the
    word (in any of its senses) are never proposed; the paper's named-entity substitution is omitted (as in
    TextAttack).
    """
    _need("pwws", lexicon=lexicon)
    return Attack(
        model,
        WordSwapSource(lexicon, max_candidates),
        GreedyWordSwapWIR("weighted_saliency"),
        UntargetedClassification(),
        (RepeatModification(), _stop(stopwords)),
        (),
        "pwws",
    )


def deepwordbug(model: Any, *, stopwords: Iterable[str] | None = None, max_edit_distance: int = 30) -> Attack:
    """DeepWordBug — Gao, Lanchantin, Soffa & Qi (2018), "Black-box Generation of Adversarial Text Sequences
    to Evade Deep Learning Classifiers", IEEE S&P Workshops.

    [UNK]-replacement ranking (TextAttack's stand-in for the paper's combined score), greedy character edits
    (neighbour swap, substitution, deletion, insertion; one random variant each), total Levenshtein distance
    <= 30, stopwords and repeats blocked. Needs no resource.

    Deviations: the paper's temporal head/tail scoring functions are replaced by [UNK] ranking (as TextAttack).
    """
    return Attack(
        model,
        CharEdits(),
        GreedyWordSwapWIR("unk"),
        UntargetedClassification(),
        (RepeatModification(), _stop(stopwords)),
        (LevenshteinDistance(max_edit_distance),),
        "deepwordbug",
    )


def textbugger(
    model: Any,
    *,
    neighbours: Any = None,
    encoder: Any = None,
    stopwords: Iterable[str] | None = None,
    max_candidates: int = 5,
    sim_threshold: float = 0.8,
) -> Attack:
    """TextBugger — Li, Ji, Du, Li & Wang (2019), "TextBugger: Generating Adversarial Text Against Real-world
    Applications", NDSS (black-box variant, as TextAttack's ``TextBuggerLi2018``).

    Delete-one word ranking; at each word the five bugs compete: insert a space inside the word, delete an inner
    character, swap two inner neighbours (one random variant each, first and last characters kept), swap one
    character for a homoglyph (every position), and swap the word for one of its 5 nearest embedding
    neighbours; whole-text sentence similarity >= 0.8 (angular, against the original); stopwords and repeats
    blocked.

    Deviations: Sub-C uses Unicode homoglyphs (Cyrillic/Greek lookalikes, as TextAttack) rather than the
    paper's o->0 / l->1 / a->@ swaps; ``neighbours`` is a precomputed neighbour list (counter-fitted here, as
    TextAttack) rather than GloVe's top 5; ``encoder`` replaces USE; the paper's sentence-level importance step
    (for long documents) is omitted; a split word keeps one word index, so windows and "% words perturbed"
    count it once.
    """
    _need("textbugger", neighbours=neighbours, encoder=encoder)
    transformation = CompositeTransformation(
        (
            CharEdits(("space", "delete", "swap"), skip_first_last=True),
            HomoglyphSwap(),
            WordSwapSource(neighbours, max_candidates),
        )
    )
    post = (SentenceSimilarity(encoder, threshold=sim_threshold, metric="angular", window_size=None),)
    return Attack(
        model,
        transformation,
        GreedyWordSwapWIR("delete"),
        UntargetedClassification(),
        (RepeatModification(), _stop(stopwords)),
        post,
        "textbugger",
    )


def bae(
    model: Any,
    *,
    mlm: Any = None,
    encoder: Any = None,
    stopwords: Iterable[str] | None = None,
    max_candidates: int = 50,
    sim_threshold: float = 0.936338023,
    window_size: int | None = 15,
    pos: Any = None,
    pos_lexicon: Any = None,
) -> Attack:
    """BAE-R — Garg & Ramakrishnan (2020), "BAE: BERT-based Adversarial Examples for Text Classification", EMNLP.

    Delete-one ranking; each word is masked and replaced by the masked LM's top 50 tokens; sentence similarity
    (cosine >= 0.9363 on a 15-word window, against the original; short texts skipped), stopwords and repeats
    blocked.

    Deviations: the POS check (nouns and verbs interchangeable) is off unless ``pos=`` is given ("spacy", "nltk",
    "lexicon" with ``pos_lexicon``, or a callable tagger); ``encoder`` replaces USE; only the replace (R)
    variant, no insertions.
    """
    _need("bae", mlm=mlm, encoder=encoder)
    post: list[Any] = _pos(pos, pos_lexicon, allow_verb_noun_swap=True)
    post.append(
        SentenceSimilarity(
            encoder,
            threshold=sim_threshold,
            metric="cosine",
            window_size=window_size,
            compare_against_original=True,
            skip_shorter_than_window=True,
        )
    )
    return Attack(
        model,
        MaskedLMSwap(mlm, "bae", max_candidates),
        GreedyWordSwapWIR("delete"),
        UntargetedClassification(),
        (RepeatModification(), _stop(stopwords)),
        tuple(post),
        "bae",
    )


def bert_attack(
    model: Any,
    *,
    mlm: Any = None,
    encoder: Any = None,
    stopwords: Iterable[str] | None = None,
    max_candidates: int = 48,
    sim_threshold: float = 0.2,
    max_fraction: float = 0.4,
) -> Attack:
    """BERT-Attack — Li, Ma, Guo, Xue & Qiu (2020), "BERT-ATTACK: Adversarial Attack Against BERT Using BERT",
    EMNLP.

    [UNK] ranking; top-48 masked-LM predictions at each word (unmasked input); at most 40% of words changed;
    whole-text sentence similarity >= 0.2 (cosine, against the original); stopwords and repeats blocked.

    Words split into sub-tokens get combinations of each sub-token's top-4 predictions ranked by perplexity
    (from the same forward pass, as TextAttack, rather than a new pass per combination as in the authors' code).

    Deviations: ``encoder`` replaces USE.
    """
    _need("bert_attack", mlm=mlm, encoder=encoder)
    pre = (RepeatModification(), _stop(stopwords), MaxWordsPerturbed(max_fraction=max_fraction))
    post = (SentenceSimilarity(encoder, threshold=sim_threshold, metric="cosine", window_size=None),)
    return Attack(
        model,
        MaskedLMSwap(mlm, "bert-attack", max_candidates),
        GreedyWordSwapWIR("unk"),
        UntargetedClassification(),
        pre,
        post,
        "bert_attack",
    )


def a2t(
    model: Any,
    *,
    neighbours: Any = None,
    encoder: Any = None,
    mlm: Any = None,
    stopwords: Iterable[str] | None = None,
    vectors: Mapping[str, np.ndarray] | None = None,
    use_mlm: bool = False,
    max_candidates: int = 20,
    sim_threshold: float = 0.9,
    max_rate: float = 0.1,
    min_words: int = 4,
    pos: Any = None,
    pos_lexicon: Any = None,
) -> Attack:
    """A2T — Yoo & Qi (2021), "Towards Improving Adversarial Training of NLP Models", Findings of EMNLP.

    A cheap attack for adversarial training: gradient word ranking (one backward pass) when the model exposes
    its transformers module, greedy swaps with up to 20 counter-fitted neighbours (or BAE-style masked-LM
    candidates with ``use_mlm=True``), at most max(4, 10% of words) changed, whole-text sentence similarity
    >= 0.9 (cosine, against the original), word-embedding cosine >= 0.8 when ``vectors`` are given.

    Deviations: ranking falls back to delete-one when the model has no ``.model``/``.tokenizer`` (e.g. a
    non-transformers classifier); ``encoder`` replaces SBERT ``stsb-distilbert-base``; the POS check (nouns and
    verbs *not* interchangeable, as TextAttack's A2T) is off unless ``pos=`` is given ("spacy", "nltk", "lexicon" with
    ``pos_lexicon``, or a callable tagger).
    """
    if use_mlm:
        _need("a2t", mlm=mlm, encoder=encoder)
        transformation: Any = MaskedLMSwap(mlm, "bae", max_candidates)
    else:
        _need("a2t", neighbours=neighbours, encoder=encoder)
        transformation = WordSwapSource(neighbours, max_candidates)
    if getattr(model, "supports_gradients", False):
        from textrobust.adversarial.gradients import WordGradients

        search = GreedyWordSwapWIR("gradient", gradient_backend=WordGradients(model))
    else:
        search = GreedyWordSwapWIR("delete")
    pre = (RepeatModification(), _stop(stopwords), MaxWordsPerturbed(max_fraction=max_rate, min_words=min_words))
    post: list[Any] = _pos(pos, pos_lexicon, allow_verb_noun_swap=False)
    post.append(SentenceSimilarity(encoder, threshold=sim_threshold, metric="cosine", window_size=None))
    if vectors is not None and not use_mlm:
        post.append(WordEmbeddingCosine(vectors, min_cos=0.8))
    return Attack(model, transformation, search, UntargetedClassification(), pre, tuple(post), "a2t")


def hotflip(
    model: Any,
    *,
    stopwords: Iterable[str] | None = None,
    vectors: Mapping[str, np.ndarray] | None = None,
    top_n: int = 1,
    beam_width: int = 10,
    max_words: int = 2,
    pos: Any = None,
    pos_lexicon: Any = None,
) -> Attack:
    """HotFlip — Ebrahimi, Rao, Lowd & Dou (2018), "HotFlip: White-Box Adversarial Examples for Text
    Classification", ACL (word-level, as TextAttack's ``HotFlipEbrahimi2017``).

    Gradient-guided swaps: at every word the ``top_n`` vocabulary words whose embeddings raise the loss most to
    first order (one forward + backward pass per text and step); beam search of width 10; at most 2 words
    changed; stopwords and repeats blocked; word-embedding cosine >= 0.8 when ``vectors`` are given. Needs a
    transformers-backed model (``.model`` and ``.tokenizer``); no other resource.

    Deviations: candidates come from the victim's own (sub-word) vocabulary, whole-word tokens only, instead of
    a word-level vocabulary; the embedding-cosine check applies only with ``vectors``; the POS check is off
    unless ``pos=`` is given.
    """
    from textrobust.adversarial.gradients import GradientSwapCandidates

    post: list[Any] = []
    if vectors is not None:
        post.append(WordEmbeddingCosine(vectors, min_cos=0.8))
    post.extend(_pos(pos, pos_lexicon, allow_verb_noun_swap=True))
    pre = (RepeatModification(), _stop(stopwords), MaxWordsPerturbed(max_words=max_words))
    return Attack(
        model,
        GradientWordSwap(GradientSwapCandidates(model), top_n),
        BeamSearch(beam_width),
        UntargetedClassification(),
        pre,
        tuple(post),
        "hotflip",
    )


def hardlabel(
    model: Any,
    *,
    neighbours: Any = None,
    encoder: Any = None,
    stopwords: Iterable[str] | None = None,
    max_candidates: int = 50,
    max_queries: int = 500,
    refine_rounds: int = 2,
) -> Attack:
    """Hard-label attack — Maheshwary, Maheshwary & Pudi (2021), "Generating Natural Language Attacks in a Hard
    Label Black Box Setting", AAAI. Label-only: it reads the victim's predicted label and nothing else, so it runs
    against endpoints and guardrails that return no scores.

    Random initialisation (random words swapped for random counter-fitted neighbours until the label flips), then
    the perturbation reduced (swapped words reverted while the label stays flipped, the most similar revert first)
    and refined (other neighbours at each swapped word, the most similar adversarial one kept), within
    ``max_queries`` queries per example; stopwords and repeats blocked (see
    :mod:`textrobust.adversarial.hardlabel`).

    Deviations: greedy per-word refinement instead of the paper's genetic algorithm; ``encoder`` (optional,
    MiniLM here) replaces USE as the similarity, and without it fewer swapped words is the only criterion;
    ``neighbours`` is the precomputed counter-fitted list (up to 8 per word) rather than the top 50.
    """
    from textrobust.adversarial.hardlabel import HardLabelSearch

    _need("hardlabel", neighbours=neighbours)
    return Attack(
        model,
        WordSwapSource(neighbours, max_candidates),
        HardLabelSearch(encoder, max_queries, refine_rounds),
        LabelFlip(),
        (RepeatModification(), _stop(stopwords)),
        (),
        "hardlabel",
    )


@dataclass(frozen=True)
class RecipeSpec:
    """A registered recipe: its builder, the resources it requires and its paper; ``label_only`` recipes read only
    the victim's predicted label (they run on endpoints that return no scores)."""

    build: Callable[..., Attack]
    resources: tuple[str, ...]
    paper: str
    label_only: bool = False


RECIPES: dict[str, RecipeSpec] = {
    "textfooler": RecipeSpec(textfooler, ("neighbours", "encoder"), "Jin et al. 2020"),
    "pwws": RecipeSpec(pwws, ("lexicon",), "Ren et al. 2019"),
    "deepwordbug": RecipeSpec(deepwordbug, (), "Gao et al. 2018"),
    "textbugger": RecipeSpec(textbugger, ("neighbours", "encoder"), "Li et al. 2019"),
    "bae": RecipeSpec(bae, ("mlm", "encoder"), "Garg & Ramakrishnan 2020"),
    "bert_attack": RecipeSpec(bert_attack, ("mlm", "encoder"), "Li et al. 2020"),
    "a2t": RecipeSpec(a2t, ("neighbours", "encoder"), "Yoo & Qi 2021"),
    "hotflip": RecipeSpec(hotflip, (), "Ebrahimi et al. 2018"),
    "hardlabel": RecipeSpec(hardlabel, ("neighbours",), "Maheshwary et al. 2021", label_only=True),
    "zh_char": RecipeSpec(zh_char, (), "Li et al. 2019 / Zhang et al. 2020 (Chinese characters)"),
    "zh_word": RecipeSpec(zh_word, (), "Ren et al. 2019, segmented (Chinese words, Cilin)"),
}

#: The languages each registered recipe supports (:mod:`textrobust.lang`); ``tests/test_languages.py`` checks
#: every recipe has a row. English resources make English recipes; character edits of ASCII letters need Latin
#: script; masked-LM and victim-vocabulary recipes work in any language written with spaces (given models of it).
RECIPE_LANGUAGES: dict[str, tuple[str, ...]] = {
    "textfooler": ("en",),
    "pwws": ("en",),
    "deepwordbug": ("latin",),
    "textbugger": ("en",),
    "bae": ("spaced",),
    "bert_attack": ("spaced",),
    "a2t": ("en",),
    "hotflip": ("spaced",),
    "zh_char": ("zh",),
    "zh_word": ("zh",),
    "hardlabel": ("en",),
}


def check_victim(name: str, model: Any) -> None:
    """ConfigError (one line naming the model) when recipe ``name`` needs scores and ``model`` answers labels only.

    Example:
        >>> class Api:
        ...     label_only = True
        ...     def __repr__(self): return "openai+http://127.0.0.1:8000/v1?model=m"
        >>> check_victim("textfooler", Api())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        textrobust.errors.ConfigError: recipe 'textfooler' needs the victim's scores, but openai+http://...
    """
    spec = RECIPES.get(name.replace("-", "_"))
    if spec is not None and not spec.label_only and getattr(model, "label_only", False):
        labelled = ", ".join(k for k, s in RECIPES.items() if s.label_only)
        raise ConfigError(
            f"recipe {name!r} needs the victim's scores, but {model!r} answers labels only (no logprobs); use the "
            f"label-only recipe {labelled}"
        )


def build_attack(name: str, model: Any, **resources: Any) -> Attack:
    """Build a registered recipe by name; ``resources`` are passed as keyword arguments.

    Example:
        >>> attack = build_attack("deepwordbug", model)  # doctest: +SKIP
    """
    spec = RECIPES.get(name.replace("-", "_"))
    if spec is None:
        raise ConfigError(f"unknown attack recipe {name!r}; known: {', '.join(sorted(RECIPES))}")
    accepted = recipe_parameters(name)
    # A shared resource dict (e.g. an experiment's) may hold resources other recipes need: drop those quietly.
    kwargs = {k: v for k, v in resources.items() if k in accepted or k not in _SHARED_RESOURCES}
    check_recipe_options(name, kwargs)
    key = name.replace("-", "_")
    attack = spec.build(model, **kwargs)
    return dataclasses.replace(attack, languages=RECIPE_LANGUAGES.get(key, attack.languages))


def recipe_parameters(name: str) -> set[str]:
    """The keyword arguments (resources and options) a registered recipe accepts.

    Example:
        >>> sorted(recipe_parameters("deepwordbug"))
        ['max_edit_distance', 'stopwords']
    """
    import inspect

    spec = RECIPES.get(name.replace("-", "_"))
    if spec is None:
        raise ConfigError(f"unknown attack recipe {name!r}; known: {', '.join(sorted(RECIPES))}")
    return set(inspect.signature(spec.build).parameters) - {"model"}


def check_recipe_options(name: str, options: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the parameters ``name`` does not take (and those it does).

    Example:
        >>> check_recipe_options("textfooler", {"pos": "lexicon", "sim_threshold": 0.7})
    """
    accepted = recipe_parameters(name)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ConfigError(f"recipe {name!r} takes no parameter(s) {unknown}; it accepts {sorted(accepted)}")


#: Keyword arguments a shared resource dict may carry for some recipes and not others: the attack resources
#: (:data:`textrobust.adversarial.resources.RESOURCES`) and the options experiments share.
_SHARED_RESOURCES = frozenset(RESOURCES) | {"vectors", "pos", "pos_lexicon"}
