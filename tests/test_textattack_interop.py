"""TextAttack interop: our model inside TextAttack, TextAttack results as our AttackReport.

Needs the optional ``textattack`` package (a separate venv: it requires transformers<5) and NLTK stopwords
(``NLTK_DATA``); everything but the missing-package test skips without it. A keyword model keeps them fast.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from textrobust.adversarial import (
    Attack,
    GreedyWordSwapWIR,
    RepeatModification,
    StopwordModification,
    WordSwapSource,
    run_attack,
)
from textrobust.errors import ResourceError

POS = {"good": 2.0, "great": 2.0, "nice": 1.0}
NEG = {"awful": -3.0, "bad": -3.0}
NEIGHBOURS = {"good": ["nice", "awful"], "great": ["nice", "bad"], "movie": ["film"]}
STOP = ["a", "the", "was", "and"]


class KeywordModel:
    """p(pos) = sigmoid(sum of word weights + 0.5); labels neg/pos."""

    labels = ("neg", "pos")

    def __init__(self) -> None:
        self.calls = 0

    def predict_proba(self, texts, batch_size=None):
        self.calls += 1
        out = []
        for t in texts:
            s = 0.5 + sum(POS.get(w, 0.0) + NEG.get(w, 0.0) for w in t.lower().replace(",", " ").split())
            p = 1.0 / (1.0 + np.exp(-s))
            out.append([1.0 - p, p])
        return np.asarray(out)


TEXTS = ["a good movie", "the movie was great and good", "a movie", "an awful movie"]
LABELS = [1, 1, 1, 1]


def test_missing_textattack_raises_resource_error(monkeypatch):
    from textrobust.adversarial import textattack_interop as ti

    monkeypatch.setitem(sys.modules, "textattack", None)  # import textattack -> ImportError
    with pytest.raises(ResourceError, match=r"pip install 'textrobust\[textattack\]'"):
        ti.run_textattack(KeywordModel(), "deepwordbug", ["a good movie"], [1])
    with pytest.raises(ResourceError, match="textattack"):
        ti.make_model_wrapper(KeywordModel())


def test_importing_interop_does_not_import_textattack():
    import subprocess

    code = "import sys, textrobust.adversarial.textattack_interop; print('textattack' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture(scope="module")
def ta():
    return pytest.importorskip("textattack")


def test_wrapper_calls_predict_proba(ta):
    from textrobust.adversarial.textattack_interop import make_model_wrapper

    model = KeywordModel()
    w = make_model_wrapper(model)
    assert isinstance(w, ta.models.wrappers.ModelWrapper)
    out = w(["a good movie", "an awful movie"])
    assert out.shape == (2, 2) and out[0].argmax() == 1 and out[1].argmax() == 0
    assert make_model_wrapper(w) is w


def test_textfooler_like_statuses_and_fields(ta):
    from textrobust.adversarial.textattack_interop import run_textattack, textfooler_like_textattack

    model = KeywordModel()
    attack = textfooler_like_textattack(model, NEIGHBOURS, stopwords=STOP)
    report = run_textattack(model, attack, TEXTS, LABELS, progress=False)
    st = [r.status for r in report.results]
    # "a movie": no swap can flip it (film is neutral); "an awful movie": model already wrong
    assert st == ["succeeded", "succeeded", "failed", "skipped"]
    r0 = report.results[0]
    assert r0.perturbed_text == "a awful movie" and r0.modified_indices == [1] and r0.num_words == 3
    assert r0.original_pred == 1 and r0.perturbed_pred == 0 and abs(sum(r0.perturbed_probs) - 1) < 1e-5
    assert r0.num_queries >= 3  # original + deletions + candidates
    assert report.results[3].modified_indices == [] and report.results[3].perturbed_text == TEXTS[3]
    s = report.summary()
    assert s["succeeded"] == 2 and s["skipped"] == 1 and s["success_rate"] == pytest.approx(2 / 3)
    assert report.attack_name == "textattack:textfooler_like" and report.extra["engine"] == "textattack"
    assert report.model_texts > 0


def test_same_outcome_as_native_engine(ta):
    from textrobust.adversarial.textattack_interop import run_textattack, textfooler_like_textattack

    model = KeywordModel()
    native = run_attack(
        Attack(
            model,
            WordSwapSource(NEIGHBOURS),
            GreedyWordSwapWIR("delete"),
            pre_constraints=(RepeatModification(), StopwordModification(STOP)),
        ),
        TEXTS,
        LABELS,
        progress=False,
    )
    theirs = run_textattack(
        model, textfooler_like_textattack(model, NEIGHBOURS, stopwords=STOP), TEXTS, LABELS, progress=False
    )
    for a, b in zip(native.results, theirs.results, strict=True):
        assert (a.status, a.perturbed_text, a.modified_indices) == (b.status, b.perturbed_text, b.modified_indices)


def _bow(texts):
    """Bag-of-words vectors over a tiny vocabulary: 'nice' is close to 'good', 'awful'/'bad' are far."""
    vocab = {"good": 0, "nice": 0, "great": 1, "awful": 2, "bad": 3, "movie": 4, "film": 4}
    out = []
    for t in texts:
        v = np.zeros(6)
        for w in t.lower().split():
            v[vocab.get(w, 5)] += 1.0
        out.append(v / max(np.linalg.norm(v), 1e-9))
    return out


@pytest.mark.parametrize("threshold", [0.5, 0.9])
def test_same_outcome_with_our_encoder_inside_textattack(ta, threshold):
    from textrobust.adversarial import SentenceSimilarity
    from textrobust.adversarial.textattack_interop import (
        run_textattack,
        textattack_sentence_encoder,
        textfooler_like_textattack,
    )

    kw = dict(threshold=threshold, metric="cosine", window_size=3, compare_against_original=False)
    model = KeywordModel()
    native = run_attack(
        Attack(
            model,
            WordSwapSource(NEIGHBOURS),
            GreedyWordSwapWIR("delete"),
            pre_constraints=(RepeatModification(), StopwordModification(STOP)),
            post_constraints=(SentenceSimilarity(_bow, skip_shorter_than_window=False, **kw),),
        ),
        TEXTS,
        LABELS,
        progress=False,
    )
    enc = textattack_sentence_encoder(_bow, skip_text_shorter_than_window=False, **kw)
    theirs = run_textattack(
        model, textfooler_like_textattack(model, NEIGHBOURS, enc, stopwords=STOP), TEXTS, LABELS, progress=False
    )
    pairs = [
        ((a.status, a.perturbed_text), (b.status, b.perturbed_text))
        for a, b in zip(native.results, theirs.results, strict=True)
    ]
    assert all(x == y for x, y in pairs), pairs
    assert {a.status for a in native.results} >= {"succeeded"} if threshold < 0.9 else True


def test_textbugger_same_outcome_in_both_engines(ta):
    from textrobust.adversarial import textbugger
    from textrobust.adversarial.textattack_interop import run_textattack, textbugger_like_textattack

    model = KeywordModel()
    native = run_attack(
        textbugger(model, neighbours=NEIGHBOURS, encoder=_bow, stopwords=STOP, sim_threshold=0.0),
        TEXTS,
        LABELS,
        progress=False,
    )
    attack = textbugger_like_textattack(model, NEIGHBOURS, _bow, stopwords=STOP, sim_threshold=0.0)
    assert "WordSwapOurHomoglyphs" in repr(attack) and "WordSwapRandomCharacterInsertion" in repr(attack)
    theirs = run_textattack(model, attack, TEXTS, LABELS, progress=False)
    # Character bugs and homoglyphs only make a keyword unknown here; the neighbour swaps decide, in both engines.
    pairs = [
        ((a.status, a.perturbed_text), (b.status, b.perturbed_text))
        for a, b in zip(native.results, theirs.results, strict=True)
    ]
    assert all(x == y for x, y in pairs), pairs
    assert [a.status for a in native.results] == ["succeeded", "succeeded", "failed", "skipped"]


def test_stopwords_and_max_words_are_respected(ta):
    from textrobust.adversarial.textattack_interop import run_textattack, textfooler_like_textattack

    model = KeywordModel()
    report = run_textattack(
        model,
        textfooler_like_textattack(model, NEIGHBOURS, stopwords=STOP + ["good"]),
        ["a good movie"],
        [1],
        progress=False,
    )
    assert report.results[0].status == "failed"  # "good" is protected; "film" does not flip it
    text = "a good great great movie"  # 6.5: one swap (-5) is not enough, two are
    free = run_textattack(
        model, textfooler_like_textattack(model, NEIGHBOURS, stopwords=STOP), [text], [1], progress=False
    )
    assert free.results[0].status == "succeeded" and len(free.results[0].modified_indices) == 2
    capped = run_textattack(
        model,
        textfooler_like_textattack(model, NEIGHBOURS, stopwords=STOP, max_words_perturbed=1),
        [text],
        [1],
        progress=False,
    )
    assert capped.results[0].status == "failed" and len(capped.results[0].modified_indices) <= 1


def test_query_budget_gives_budget_exhausted(ta):
    from textrobust.adversarial.textattack_interop import run_textattack, textfooler_like_textattack

    model = KeywordModel()
    report = run_textattack(
        model,
        textfooler_like_textattack(model, NEIGHBOURS, stopwords=STOP),
        ["the movie was great and good"],
        [1],
        query_budget=2,
        progress=False,
    )
    r = report.results[0]
    assert r.status == "budget_exhausted" and r.num_queries <= 2


def test_label_names_are_accepted(ta):
    from textrobust.adversarial.textattack_interop import run_textattack, textfooler_like_textattack

    model = KeywordModel()
    report = run_textattack(
        model, textfooler_like_textattack(model, NEIGHBOURS, stopwords=STOP), ["a good movie"], ["pos"], progress=False
    )
    assert report.results[0].label == 1 and report.results[0].status == "succeeded"


def test_recipe_by_name_deepwordbug(ta):
    from textrobust.adversarial.textattack_interop import run_textattack

    model = KeywordModel()
    texts = ["an awful great great movie", "an awful movie"]  # 1.5: a typo in one "great" flips it
    report = run_textattack(model, "deepwordbug", texts, [1, 1], progress=False)
    assert report.attack_name == "textattack:deepwordbug"
    assert [r.status for r in report.results] == ["succeeded", "skipped"]
    r = report.results[0]
    assert r.perturbed_pred == 0 and len(r.modified_indices) == 1 and r.num_queries > 1


def test_unknown_recipe_is_a_config_error(ta):
    from textrobust.adversarial.textattack_interop import run_textattack
    from textrobust.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown TextAttack recipe"):
        run_textattack(KeywordModel(), "nope", ["x"], [0], progress=False)


def test_cli_engine_textattack_errors(tmp_path):
    import importlib.util
    import subprocess

    data = tmp_path / "d.csv"
    data.write_text("text,label\na good movie,pos\n", encoding="utf-8")

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "textrobust", "attack", str(data), "--model", str(tmp_path), *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    r = cli("--recipe", "deepwordbug", "--engine", "nope")
    assert r.returncode == 2 and "unknown engine 'nope'" in r.stderr
    if importlib.util.find_spec("textattack") is None:
        r = cli("--recipe", "deepwordbug", "--engine", "textattack")
        assert r.returncode == 2 and "pip install 'textrobust[textattack]'" in r.stderr
    else:
        r = cli("--recipe", "nope", "--engine", "textattack")
        assert r.returncode == 2 and "unknown TextAttack recipe 'nope'" in r.stderr


def test_recipe_download_failure_is_a_resource_error(ta, monkeypatch):
    from textrobust.adversarial import textattack_interop as ti

    class Offline:
        @staticmethod
        def build(wrapper):
            raise OSError("Failed to resolve 'textattack.s3.amazonaws.com'")

    monkeypatch.setattr(ti, "_recipe_class", lambda name: Offline)
    with pytest.raises(ResourceError, match="could not load its resources.*textattack.s3"):
        ti.run_textattack(KeywordModel(), "textfooler", ["a good movie"], [1], progress=False)
