"""MiniLM fine-tuned on real MR sentences, attacked with TextFooler-like and DeepWordBug recipes (slow: marked
``integration``). Train sentences exclude the TextFooler MR evaluation set; we attack its first 50 sentences."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CPU

pytestmark = pytest.mark.integration


def mr_train_and_eval(data_dir, n_train: int, n_eval: int, seed: int = 0):
    """(train texts, train labels, eval texts, eval labels); MR files are cp1252, split on '\\n' only."""
    eval_lines = (data_dir / "textfooler_eval" / "mr").read_text(encoding="utf-8").split("\n")
    eval_rows = [(line[2:].strip(), int(line[0])) for line in eval_lines if line.strip()]
    held_out = {t for t, _ in eval_rows}
    rows = []
    for name, label in (("rt-polarity.neg", 0), ("rt-polarity.pos", 1)):
        text = (data_dir / "mr" / name).read_bytes().decode("cp1252", errors="replace")
        rows += [(t.strip(), label) for t in text.split("\n") if t.strip() and t.strip() not in held_out]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(rows), size=n_train, replace=False)
    train = [rows[i] for i in pick]
    ev = eval_rows[:n_eval]
    return [t for t, _ in train], [y for _, y in train], [t for t, _ in ev], [y for _, y in ev]


@pytest.fixture(scope="module")
def mr_model(data_dir, minilm_dir):
    from textrobust.data import LabeledData
    from textrobust.models import TextClassifier, TrainConfig

    xs, ys, ex, ey = mr_train_and_eval(data_dir, 2000, 50)
    clf = TextClassifier(
        minilm_dir,
        labels=["neg", "pos"],
        max_length=48,
        runtime=CPU,
        train_config=TrainConfig(epochs=1, lr=1e-4, batch_size=32),
    )
    clf.fit(LabeledData(xs, ys, ["neg", "pos"]), progress=False)
    return clf, ex, ey


def test_textfooler_and_deepwordbug_break_minilm_on_mr(mr_model, data_dir):
    from textrobust.adversarial import deepwordbug, load_resources, run_attack, textfooler

    clf, texts, labels = mr_model
    res = load_resources(["neighbours", "encoder", "stopwords"], data_dir)
    tf = run_attack(textfooler(clf, **res), texts, labels, batch_size=50, progress=False).summary()
    dwb = run_attack(
        deepwordbug(clf, stopwords=res["stopwords"]), texts, labels, batch_size=50, progress=False
    ).summary()
    # Measured on 2 CPU cores (seed 0): clean accuracy 0.80; under TextFooler 0.12 (29 queries/example),
    # under DeepWordBug 0.10 (24 queries/example); about 100 s in all, 55 s of it fine-tuning.
    print("\ntextfooler", tf, "\ndeepwordbug", dwb)
    assert tf["original_accuracy"] > 0.6, tf
    assert tf["accuracy_under_attack"] < tf["original_accuracy"] - 0.3, tf
    assert dwb["accuracy_under_attack"] < dwb["original_accuracy"] - 0.3, dwb
    assert tf["avg_queries"] > 1 and dwb["avg_words_perturbed_pct"] > 0


def test_textbugger_breaks_minilm_on_mr_with_visible_bugs(mr_model, data_dir):
    from textrobust.adversarial import load_resources, run_attack, textbugger

    clf, texts, labels = mr_model
    res = load_resources(["neighbours", "encoder", "stopwords"], data_dir)
    report = run_attack(textbugger(clf, **res), texts, labels, batch_size=50, progress=False)
    s = report.summary()
    print("\ntextbugger", s)
    assert s["accuracy_under_attack"] < s["original_accuracy"] - 0.3, s
    done = [r for r in report.results if r.status == "succeeded"]
    # Every success changed only the words it lists, and the texts still differ from the originals.
    for r in done:
        assert r.perturbed_text != r.original_text and r.modified_indices
        assert r.perturbed_pred != r.original_pred == r.label
