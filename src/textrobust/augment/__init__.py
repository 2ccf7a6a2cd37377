"""Text augmentation: operators, containers, filters, synonym sources and the file runner.

Importing this package is cheap; torch/transformers/nlpaug load only inside the operators that need them.

Example:
    >>> from textrobust.augment import parse_op, Sequential
    >>> op = Sequential([parse_op("char:kind=ocr,p=0.2"), parse_op("eda:alpha_sr=0,alpha_ri=0")])
    >>> len(op(["the movie was great"], seed=0, n=2)[0])
    2
"""

from textrobust.augment.base import (
    Operator,
    Params,
    get,
    list_operators,
    operator_from_spec,
    parse_op,
    register,
    registered,
    row_rng,
)
from textrobust.augment.char import CharNoise
from textrobust.augment.containers import OneOf, Sequential, SomeOf, Sometimes
from textrobust.augment.files import AugmentSummary, augment_file, augment_rows
from textrobust.augment.filters import Dedup, LabelPreserving, Length, Similarity, filter_from_spec
from textrobust.augment.lambada import fewshot_generate, finetune_causal_lm, lambada_generate
from textrobust.augment.model_gen import Generate
from textrobust.augment.model_ops import Backtranslate, Contextual
from textrobust.augment.nlpaug_adapter import NlpaugOp
from textrobust.augment.paraphrase import Paraphrase
from textrobust.augment.pipeline import load_filters_yaml, load_pipeline_yaml, operators_from_config
from textrobust.augment.sources import (
    EmbeddingSource,
    LexiconSource,
    SynonymSource,
    WordNetSource,
    load_source,
    load_stopwords,
)
from textrobust.augment.width import PunctWidth
from textrobust.augment.word import EDA, Synonym
from textrobust.augment.zh_char import ZhChar
from textrobust.augment.zh_script import ZhScript

__all__ = [
    "EDA",
    "AugmentSummary",
    "Backtranslate",
    "CharNoise",
    "Contextual",
    "Dedup",
    "EmbeddingSource",
    "Generate",
    "LabelPreserving",
    "Length",
    "LexiconSource",
    "NlpaugOp",
    "OneOf",
    "Operator",
    "Paraphrase",
    "Params",
    "PunctWidth",
    "Sequential",
    "Similarity",
    "SomeOf",
    "Sometimes",
    "Synonym",
    "SynonymSource",
    "WordNetSource",
    "ZhChar",
    "ZhScript",
    "augment_file",
    "augment_rows",
    "fewshot_generate",
    "filter_from_spec",
    "finetune_causal_lm",
    "get",
    "lambada_generate",
    "list_operators",
    "load_filters_yaml",
    "load_pipeline_yaml",
    "load_source",
    "load_stopwords",
    "operator_from_spec",
    "operators_from_config",
    "parse_op",
    "register",
    "registered",
    "row_rng",
]
