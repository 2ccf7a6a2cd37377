"""Adversarial attacks and adversarial training.

An :class:`Attack` composes a transformation (candidate edits), pre- and post-transformation constraints, a goal
and a search method. Searches are generators; :func:`run_attack` advances many examples in lockstep and sends all
their candidates to the model in one batched call per step, with a run-wide query cache. Recipes (TextFooler,
PWWS, DeepWordBug, BAE, BERT-Attack, A2T) live in :mod:`textrobust.adversarial.recipes`.

Example:
    >>> from textrobust.adversarial import deepwordbug, run_attack
    >>> report = run_attack(deepwordbug(model), texts, labels)  # doctest: +SKIP
    >>> report.summary()["accuracy_under_attack"]  # doctest: +SKIP

Importing this package loads numpy only; torch/transformers load when a model-backed backend is used. The
sentence encoder and masked LM recipes take live in :mod:`textrobust.models.encoders` (re-exported here).
"""

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
from textrobust.adversarial.goals import TargetedClassification, UntargetedClassification
from textrobust.adversarial.gradients import GradientSwapCandidates, WordGradients
from textrobust.adversarial.lockstep import run_attack
from textrobust.adversarial.recipes import (
    RECIPES,
    a2t,
    bae,
    bert_attack,
    build_attack,
    deepwordbug,
    hotflip,
    pwws,
    textbugger,
    textfooler,
)
from textrobust.adversarial.requests import BatchCall, ModelQuery
from textrobust.adversarial.resources import RESOURCES, build_resources, load_resources
from textrobust.adversarial.results import STATUSES, AttackReport, AttackResult, read_results
from textrobust.adversarial.search import BeamSearch, GreedyWordSwapWIR
from textrobust.adversarial.setup import AttackSetup
from textrobust.adversarial.text import AttackText
from textrobust.adversarial.training import adversarial_examples_for_training, adversarial_fit, make_online_callback
from textrobust.adversarial.transformations import (
    CharEdits,
    CompositeTransformation,
    GradientWordSwap,
    HomoglyphSwap,
    MaskedLMSwap,
    WordSwapSource,
)
from textrobust.models.encoders import MaskedLM, SentenceEncoder

__all__ = [
    "RECIPES",
    "RESOURCES",
    "STATUSES",
    "Attack",
    "AttackSetup",
    "AttackReport",
    "AttackResult",
    "AttackText",
    "BatchCall",
    "BeamSearch",
    "CharEdits",
    "CompositeTransformation",
    "GradientSwapCandidates",
    "GradientWordSwap",
    "GreedyWordSwapWIR",
    "HomoglyphSwap",
    "LevenshteinDistance",
    "MaskedLM",
    "MaskedLMSwap",
    "MaxWordsPerturbed",
    "ModelQuery",
    "PartOfSpeech",
    "RepeatModification",
    "SentenceEncoder",
    "SentenceSimilarity",
    "StopwordModification",
    "TargetedClassification",
    "UntargetedClassification",
    "WordEmbeddingCosine",
    "WordGradients",
    "WordSwapSource",
    "a2t",
    "adversarial_examples_for_training",
    "adversarial_fit",
    "build_resources",
    "bae",
    "bert_attack",
    "hotflip",
    "build_attack",
    "deepwordbug",
    "load_resources",
    "make_online_callback",
    "pwws",
    "read_results",
    "run_attack",
    "textbugger",
    "textfooler",
]
