"""Reports: a synthetic run directory (built from the run-dir contract) rendered into HTML + JSON."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from textrobust.errors import DataError
from textrobust.reports import build_report

SEEDS = [0, 1, 2]
SUITES = ["char", "typo", "synonym"]
RECIPE = "textfooler"
# condition -> (clean acc, attack acc, half-width of the paired-difference CI, seeds)
CONDITIONS = {
    "baseline": (0.912, 0.213, None, SEEDS),
    "typo_aug": (0.905, 0.221, 0.020, SEEDS),  # attack diff +0.8, CI -1.2..+2.8: includes zero
    "adv_train": (0.897, 0.274, 0.031, SEEDS),  # attack diff +6.1, CI +3.0..+9.2; clean -1.5 (-2.5..-0.5)
    "one_seed": (0.900, 0.250, None, [0]),
}
SUITE_DROP = {"char": 0.08, "typo": 0.05, "synonym": 0.03}
XSS_TEXT = "<script>window.__xss=1;alert(1)</script> \"q\" 's' \u202egnp.exe \u200bzw"
XSS_LABEL = '<img src=x onerror="window.__xss=2">'
XSS_CONDITION = 'x"><img src=x onerror=alert(1)>'


def _metrics(condition: str) -> dict[tuple[str, str], float]:
    clean, attack, _, _ = CONDITIONS[condition]
    bonus = {"baseline": 0.0, "typo_aug": 0.02, "adv_train": 0.03, "one_seed": 0.01}.get(condition, 0.0)
    out = {("clean", "accuracy"): clean, ("clean", "macro_f1"): clean - 0.004}
    for suite in SUITES:
        out[(f"inv:{suite}", "accuracy")] = round(clean - SUITE_DROP[suite] + bonus, 4)
        out[(f"inv:{suite}", "invariance")] = round(0.9 - SUITE_DROP[suite] + bonus, 4)
        out[(f"inv:{suite}", "n")] = 200.0
    out.update(
        {
            (f"attack:{RECIPE}", "original_accuracy"): clean,
            (f"attack:{RECIPE}", "accuracy_under_attack"): attack,
            (f"attack:{RECIPE}", "success_rate"): round(1 - attack / clean, 4),
            (f"attack:{RECIPE}", "avg_words_perturbed_pct"): 12.5 + 10 * bonus,
            (f"attack:{RECIPE}", "avg_queries"): 150.0 + 1000 * bonus,
            (f"attack:{RECIPE}", "n"): 100.0,
            ("train", "train_size"): 5000.0,
            ("train", "train_seconds"): 60.0 + 600 * bonus,
        }
    )
    return out


def metric_metadata() -> list[dict]:
    """The metadata the harness writes for these evaluations (from the evaluations themselves)."""
    from textrobust.robustness import build_evaluation
    from textrobust.robustness.trainset import TRAIN_METRICS

    evals = [
        build_evaluation({"kind": "clean"}),
        build_evaluation({"kind": "inv", "suites": SUITES}),
        build_evaluation({"kind": "attack", "recipe": RECIPE}),
    ]
    infos = TRAIN_METRICS + [m for ev in evals for m in ev.metrics(["negative", "positive"])]
    present = set(_metrics("baseline"))
    return [m.to_dict() for m in infos if (m.evaluation, m.metric) in present]


def make_run_dir(root: Path, *, xss: bool = False, records: bool = True, n_attacks: int = 10) -> Path:
    """Write a complete run directory following the harness contract (numbers chosen, not computed)."""
    run = root / "run"
    run.mkdir(parents=True)
    conditions = dict(CONDITIONS)
    if xss:
        conditions[XSS_CONDITION] = conditions.pop("one_seed")
    config = {
        "name": "sst2-robustness" if not xss else f"demo {XSS_TEXT}",
        "data": {"train": "data/train.tsv", "test": "data/test.tsv", "train_size": 5000, "text_column": "sentence"},
        "model": {"name": "minilm" if not xss else XSS_LABEL, "max_length": 64},
        "conditions": {name: {"augment": None} for name in conditions},
        "seeds": SEEDS,
        "evaluations": {"inv": SUITES, "attack": [RECIPE]},
    }
    env = {
        "python": "3.11.7",
        "platform": "Linux-6.1-x86_64",
        "packages": {"torch": "2.13.0", "textrobust": "0.1.0"},
        "device": "cuda",
        "gpu": "NVIDIA H100 80GB HBM3",
        "cpu_count": 16,
        "git_commit": "abc1234",
        "command": "textrobust run exp.yaml" + (f" --note '{XSS_TEXT}'" if xss else ""),
        "started_at": "2026-11-23T09:00:00+00:00",
        "finished_at": "2026-11-23T10:02:05+00:00",
        "duration_s": 3725.0,
    }
    results, summary_rows = [], []
    base = _metrics("baseline")
    for name, (_, _, diff_half, seeds) in conditions.items():
        metrics = _metrics("one_seed" if name == XSS_CONDITION else name)
        for (evaluation, metric), mean in metrics.items():
            spread = 0.01 if metric not in ("n", "train_size") and len(seeds) > 1 else 0.0
            for i, seed in enumerate(seeds):
                results.append((name, seed, evaluation, metric, mean + (i - 1) * spread))
            multi = len(seeds) > 1
            half_ci = 0.012 if mean <= 1 else round(0.04 * mean, 3)
            is_base = name == "baseline"
            diff = None if (is_base or not multi) else mean - base[(evaluation, metric)]
            half = diff_half if evaluation.startswith("attack") else 0.009 if evaluation == "clean" else 0.012
            if metric in ("train_seconds", "avg_queries", "avg_words_perturbed_pct"):
                half = 4.0
            if name == "adv_train" and evaluation == "clean":
                half = 0.010
            dlo, dhi = (diff - half, diff + half) if (multi and not is_base) else (None, None)
            summary_rows.append(
                {
                    "condition": name,
                    "evaluation": evaluation,
                    "metric": metric,
                    "n_seeds": len(seeds),
                    "mean": mean,
                    "ci_low": mean - half_ci if multi else None,
                    "ci_high": mean + half_ci if multi else None,
                    "diff_mean": diff,
                    "diff_ci_low": dlo,
                    "diff_ci_high": dhi,
                    "diff_includes_zero": None if dlo is None else bool(dlo <= 0 <= dhi),
                }
            )
    (run / "config.json").write_text(json.dumps(config, indent=2))
    (run / "environment.json").write_text(json.dumps(env, indent=2))
    (run / "summary.json").write_text(
        json.dumps(
            {
                "confidence": 0.95,
                "method": "t",
                "baseline": "baseline",
                "rows": summary_rows,
                "metrics": metric_metadata(),
                "units": {"total": 10, "done": 10, "failed": [], "missing": 0},
            },
            indent=2,
        )
    )
    with (run / "results.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["condition", "seed", "evaluation", "metric", "value"])
        writer.writerows(results)
    if records:
        _write_records(run, conditions, xss=xss, n_attacks=n_attacks)
    return run


def _write_records(run: Path, conditions: dict, *, xss: bool, n_attacks: int) -> None:
    for name, (_, _, _, seeds) in conditions.items():
        if "/" in name:
            continue
        for seed in seeds:
            d = run / "units" / name / f"seed{seed}"
            d.mkdir(parents=True)
            text = XSS_TEXT if xss else "the film was good and the cast was great"
            tail = "\u200b" if xss else "indeed"
            label = XSS_LABEL if xss else "positive"
            attacks = [
                {
                    "evaluation": f"attack:{RECIPE}",
                    "item": str(i),
                    "model_failed": True,
                    "original": f"{text} #{i}",
                    "text": f"{text.replace('good', 'decent')} #{i} {tail}",
                    "label": label,
                    "pred_original": label,
                    "pred": "negative" if not xss else XSS_TEXT,
                    "conf_original": 0.97,
                    "conf": 0.61,
                    "info": {
                        "recipe": RECIPE,
                        "status": "succeeded",
                        "queries": 100 + i,
                        "words_perturbed_pct": 10.0 + i,
                    },
                }
                for i in range(n_attacks)
            ]
            attacks.append({**attacks[0], "model_failed": False, "info": {**attacks[0]["info"], "status": "failed"}})
            inv = [
                {
                    "evaluation": f"inv:{suite}",
                    "item": str(i),
                    "model_failed": bool(i % 2),
                    "original": f"{text} ({suite} {i})",
                    "text": f"{text} ({suite}{i})",
                    "label": label,
                    "pred_original": label,
                    "pred": "negative" if i % 2 else label,
                    "conf_original": 0.9,
                    "conf": 0.55,
                    "info": {"suite": suite},
                }
                for suite in SUITES
                for i in range(4)
            ]
            (d / "examples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in attacks + inv))
            if name != "baseline":
                aug = [
                    {
                        "operator": op,
                        "source_text": f"{text} {i}",
                        "augmented_text": f"{text} {i} extra",
                        "label": label,
                    }
                    for op in ("keyboard", "synonym")
                    for i in range(3)
                ]
                (d / "augmented_sample.jsonl").write_text("".join(json.dumps(r) + "\n" for r in aug))


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run_dir(tmp_path)


@pytest.fixture
def built(run_dir: Path) -> tuple[Path, str, dict]:
    html_path = build_report(run_dir)
    return html_path, html_path.read_text(encoding="utf-8"), json.loads(html_path.with_suffix(".json").read_text())


def _plain(html: str) -> str:
    """Visible text of the page (tags dropped, whitespace collapsed): what a reader sees."""
    import html as html_lib

    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_report_written_next_to_run_with_key_numbers(built, run_dir):
    html_path, html, _ = built
    assert html_path == run_dir / "report.html" and (run_dir / "report.json").is_file()
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    text = _plain(html)
    for expected in (
        "sst2-robustness",
        "minilm",
        "NVIDIA H100 80GB HBM3",
        "1 h 2 min",
        "5000 rows",
        "91.2% ± 1.2",
        "27.4% ± 1.2",
        "Δ +6.1 pts 95% CI +3.0 to +9.2",
        "textrobust run exp.yaml",
        "accuracy under textfooler attack",
        "accuracy on typo-perturbed inputs",
        "torch 2.13.0",
        "10 of 10 condition × seed units finished",
    ):
        assert expected in text, expected
    assert '<a href="./report.json">report.json</a>' in html


def test_verdict_wording_depends_on_the_interval(built):
    text = _plain(built[1])
    assert "better accuracy under textfooler attack: +6.1 pts (95% CI +3.0 to +9.2)" in text
    assert "no detectable change in accuracy under textfooler attack (+0.8 pts, 95% CI −1.2 to +2.8)" in text
    assert "worse clean accuracy: −1.5 pts (95% CI −2.5 to −0.5)" in text
    assert "accuracy under textfooler attack: too few seeds for an interval" in text
    # Verdicts come from the metadata: robustness first, then clean; info metrics (training time) are not judged.
    adv = next(c for c in built[2]["conditions"] if c["name"] == "adv_train")
    assert [v["key"] for v in adv["verdicts"]][:1] == ["inv:char.accuracy"] and "train.train_seconds" not in {
        v["key"] for v in adv["verdicts"]
    }
    assert [v["key"] for v in adv["verdicts"]][-1] == "clean.accuracy"


def test_the_headline_names_only_detected_differences_and_crowns_nobody(built):
    """No composite score and no "best": per condition, the metrics whose comparison detected a difference, named,
    and the count of the others (issue 28)."""
    _, html, report = built
    assert "best" not in report and "★" not in _plain(html)
    found = {f["condition"]: f for f in report["findings"]}
    better = [b["key"] for b in found["adv_train"]["better"]]
    assert f"attack:{RECIPE}.accuracy_under_attack" in better and "clean.accuracy" not in better
    assert [w["key"] for w in found["adv_train"]["worse"]] == ["clean.accuracy"]
    typo = found["typo_aug"]  # its attack interval includes zero: not named, only counted
    assert f"attack:{RECIPE}.accuracy_under_attack" not in [b["key"] for b in typo["better"]] and typo["no_change"]
    lead = _plain(html.split('<div class="lead">')[1].split("</div>")[0])
    assert f"accuracy under {RECIPE} attack (+6.1 pts); worse clean accuracy (−1.5 pts) than baseline" in lead


def test_json_twin_matches_summary(built, run_dir):
    _, _, report = built
    summary = json.loads((run_dir / "summary.json").read_text())
    assert report["summary_rows"] == summary["rows"]
    by_name = {c["name"]: c for c in report["conditions"]}
    columns = {c["key"]: c for c in report["columns"]}
    for row in summary["rows"]:
        for key, col in columns.items():
            if (col["evaluation"], col["metric"]) == (row["evaluation"], row["metric"]):
                cell = by_name[row["condition"]]["cells"][key]
                for field in ("mean", "ci_low", "ci_high", "diff_mean", "diff_ci_low", "diff_ci_high", "n_seeds"):
                    assert cell[field] == row[field], (row, field)
    assert report["schema_version"] == 3 and report["baseline"] == "baseline"
    # Every metric appears in the details, headline or not (a new metric is never lost on the page).
    detail_keys = {m["key"] for g in report["details"] for m in g["metrics"]}
    assert detail_keys == {f"{r['evaluation']}.{r['metric']}" for r in summary["rows"]}
    assert [c["name"] for c in report["conditions"]] == list(CONDITIONS)


def test_examples_are_capped_with_counts(built):
    _, html, report = built
    blocks = {b["evaluation"]: b for b in report["examples"]["failures"]}
    attacks = blocks[f"attack:{RECIPE}"]
    assert attacks["total"] == 10 * 10 and attacks["shown"] == 50 and attacks["not_shown"] == 50
    assert {r["condition"] for r in attacks["rows"]} == set(CONDITIONS)  # fair share across conditions
    assert attacks["info_columns"] == ["queries", "words_perturbed_pct"]  # constant columns (recipe) dropped
    assert "50 more not shown" in _plain(html)
    assert [blocks[f"inv:{s}"]["total"] for s in SUITES] == [10 * 2] * len(SUITES)
    assert report["examples"]["augmented"]["by_group"] == {"keyboard": 21, "synonym": 21}
    assert "<del>good</del> <ins>decent</ins>" in html


def test_page_is_self_contained(built):
    html = built[1]
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert not re.search(r'\s(src|href)="(?!#|\./report\.json)', html)
    assert "Content-Security-Policy" in html and "default-src &#39;none&#39;" in html
    assert "prefers-color-scheme: dark" in html and "@media print" in html
    assert '<th scope="col"' in html and '<th scope="row"' in html
    assert len(html.encode()) < 5_000_000


def test_custom_output_path_and_twin(run_dir, tmp_path):
    out = build_report(run_dir, tmp_path / "out" / "my.html")
    assert out == tmp_path / "out" / "my.html" and (tmp_path / "out" / "my.json").is_file()
    assert '<a href="./my.json">my.json</a>' in out.read_text()
    assert not (run_dir / "report.html").exists()
    assert build_report(run_dir, tmp_path / "out") == tmp_path / "out" / "report.html"  # a directory
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataError, match="cannot write"):
        build_report(run_dir, blocker / "r.html")


def test_xss_payloads_are_escaped(tmp_path):
    run = make_run_dir(tmp_path, xss=True)
    html = build_report(run).read_text(encoding="utf-8")
    for raw in ("<script>window.__xss", "<img", "\u202e", "\u200b"):
        assert raw not in html, raw
    for escaped in (
        "&lt;script&gt;window.__xss=1;alert(1)&lt;/script&gt;",
        "&lt;img src=x onerror=&#34;window.__xss=2&#34;&gt;",
        "x&#34;&gt;&lt;img src=x onerror=alert(1)&gt;",
        "&#34;q&#34;",
        "&#39;s&#39;",
        '<span class="cp" title="U+202E RIGHT-TO-LEFT OVERRIDE">U+202E</span>',
        '<span class="cp" title="U+200B ZERO WIDTH SPACE">U+200B</span>',
    ):
        assert escaped in html, escaped
    assert html.count("<script") == 1  # only the page's own script
    report = json.loads(run.joinpath("report.json").read_text(encoding="utf-8"))
    assert report["header"]["name"] == f"demo {XSS_TEXT}"  # the JSON twin keeps the data verbatim


def test_minimal_run_dir_single_seed_no_records(tmp_path):
    run = tmp_path / "mini"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"name": "mini", "seeds": [7]}))
    (run / "summary.json").write_text(
        json.dumps(
            {
                "baseline": "baseline",
                "rows": [
                    {"condition": "baseline", "evaluation": "clean", "metric": "accuracy", "n_seeds": 1, "mean": 0.8},
                    {
                        "condition": "aug",
                        "evaluation": "clean",
                        "metric": "accuracy",
                        "n_seeds": 1,
                        "mean": 0.82,
                        "diff_mean": 0.02,
                    },
                ],
                "metrics": [m for m in metric_metadata() if m["evaluation"] == "clean" and m["metric"] == "accuracy"],
            }
        )
    )
    (run / "results.csv").write_text(
        "condition,seed,evaluation,metric,value\nbaseline,7,clean,accuracy,0.8\naug,7,clean,accuracy,0.82\n"
    )
    text = _plain(build_report(run).read_text())
    assert "clean accuracy: +2.0 pts, too few seeds for an interval" in text
    assert "No per-example failures recorded." in text and "Clean accuracy" in text


@pytest.mark.parametrize(
    "breakage",
    [
        "missing_dir",
        "no_summary",
        "bad_config",
        "no_results",
        "bad_jsonl",
        "bad_columns",
        "summary_not_rows",
        "no_metadata",
        "bad_metadata",
    ],
)
def test_broken_run_dirs_raise_data_error(tmp_path, breakage):
    run = make_run_dir(tmp_path)
    if breakage == "missing_dir":
        run = tmp_path / "nope"
    elif breakage == "no_summary":
        (run / "summary.json").unlink()
    elif breakage == "bad_config":
        (run / "config.json").write_text("{not json")
    elif breakage == "no_results":
        (run / "results.csv").unlink()
    elif breakage == "bad_jsonl":
        (run / "units" / "baseline" / "seed0" / "examples.jsonl").write_text('{"failed": true}\n{oops\n')
    elif breakage == "bad_columns":
        (run / "results.csv").write_text("a,b\n1,2\n")
    elif breakage == "summary_not_rows":
        (run / "summary.json").write_text('{"rows": 3}')
    elif breakage in ("no_metadata", "bad_metadata"):  # a summary written by textrobust 0.1, or damaged
        summary = json.loads((run / "summary.json").read_text())
        summary["metrics"] = (
            [{"evaluation": "clean"}] if breakage == "bad_metadata" else summary.pop("metrics") and None
        )
        if summary["metrics"] is None:
            del summary["metrics"]
        (run / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(DataError) as info:
        build_report(run)
    assert "\n" not in str(info.value)
    assert not (run / "report.html").exists()


def test_reports_imports_no_model_code(run_dir):
    code = (
        "import sys; from textrobust.reports import build_report; build_report(sys.argv[1]); "
        "bad = [m for m in sys.modules if m.startswith(('textrobust.models', 'textrobust.augment', "
        "'textrobust.adversarial', 'torch', 'transformers'))]; print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(run_dir)], check=False, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_word_diff_and_formatting():
    from textrobust.reports.fmt import diff_text, pct, pm_text, pts, value_text, verdict
    from textrobust.reports.textdiff import word_diff

    assert word_diff("the film was good", "the movie was good") == [
        ["equal", "the"],
        ["del", "film"],
        ["ins", "movie"],
        ["equal", "was good"],
    ]
    assert pct(0.8534) == "85.3%" and pts(-0.015) == "−1.5 pts" and pts(0.0) == "0.0 pts"
    # An interval beside a mean: "±" only when it is symmetric; near 100% the honest interval is lopsided.
    assert pm_text(0.5, 0.465, 0.535, "share") == "± 3.5"
    assert pm_text(1.0, 0.994, 1.0, "share") == "[99.4%, 100.0%]"
    cell = {"mean": 0.5, "n_seeds": 3, "diff_mean": -0.04, "diff_ci_low": -0.07, "diff_ci_high": -0.01}
    assert verdict(cell, what="x", better="better x", worse="worse x", confidence=0.9) == {
        "kind": "worse",
        "text": "worse x: −4.0 pts (90% CI −7.0 to −1.0)",
    }
    assert verdict(None, what="x", better="b", worse="w", confidence=0.95)["kind"] == "missing"
    # Lower is better (a failure rate): a negative difference is the better one.
    assert (
        verdict(cell, what="x", better="better x", worse="worse x", confidence=0.9, higher_is_better=False)["kind"]
        == "better"
    )
    assert value_text(0.0421, "share") == "4.2%" and value_text(12.25, "seconds") == "12.2 s"
    assert diff_text(-0.0123, "score") == "−0.012" and diff_text(3.0, "percent") == "+3.0 pts"


def test_nan_values_become_null(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["rows"][0]["ci_low"] = float("nan")
    (run_dir / "summary.json").write_text(json.dumps(summary))  # Python writes NaN, as pandas users do
    config = json.loads((run_dir / "config.json").read_text())
    config["lr"] = float("inf")
    (run_dir / "config.json").write_text(json.dumps(config))
    report = json.loads(build_report(run_dir).with_suffix(".json").read_text())
    assert report["summary_rows"][0]["ci_low"] is None and report["config"]["lr"] is None


def test_verdict_sentences_say_what_was_compared_the_interval_and_the_correction():
    from textrobust.reports.fmt import verdict

    base = {
        "mean": 0.3,
        "n_seeds": 3,
        "n_examples": 300,
        "diff_mean": 0.061,
        "diff_ci_low": 0.03,
        "diff_ci_high": 0.092,
        "diff_method": "seeds+examples",
        "diff_p": 0.0021,
        "diff_p_adjusted": 0.0126,
        "family_size": 6,
        "verdict": "better",
        "by_seed": [
            {"seed": 0, "diff": 0.05, "p": 0.01},
            {"seed": 1, "diff": 0.07, "p": 0.002},
            {"seed": 2, "diff": 0.06, "p": 0.2},
        ],
    }
    kw = {
        "what": "accuracy under attack",
        "better": "better accuracy under attack",
        "worse": "worse accuracy under attack",
        "confidence": 0.95,
    }
    assert verdict(base, **kw)["text"] == (
        "better accuracy under attack: +6.1 pts (unadjusted 95% CI +3.0 to +9.2 over 3 seeds and 300 test examples, "
        "p = 0.0021; Holm-adjusted p = 0.013 across 6 comparisons); seed by seed, better in 3 of 3 "
        "(describes these trained models; not a test)"
    )
    no = {
        **base,
        "diff_mean": 0.02,
        "diff_ci_low": 0.001,
        "diff_ci_high": 0.039,
        "diff_p": 0.04,
        "diff_p_adjusted": 0.2,
        "verdict": "no_change",
        "diff_mde": 0.03,
        "seeds_needed": 9,
    }
    assert verdict(no, **kw) == {
        "kind": "no_change",
        "text": (
            "no detectable change in accuracy under attack after correcting for 6 comparisons "
            "(+2.0 pts, unadjusted 95% CI +0.1 to +3.9 over 3 seeds and 300 test examples, p = 0.04; "
            "Holm-adjusted p = 0.20 across 6 comparisons); "
            "this design detects changes of 3.0 pts or more (80% power); about 9 seeds would detect +2.0 pts"
        ),
    }
    ranged = {**no, "diff_mde_low": 0.021, "diff_mde_high": 0.094}
    assert (
        "detects changes of 3.0 pts or more (80% power; 2.1 pts to 9.4 pts as far as 3 seeds can tell)"
        in (verdict(ranged, **kw)["text"])
    )
    more = {**no, "seeds_needed": None, "examples_needed": 33645}
    assert verdict(more, **kw)["text"].endswith(
        "more seeds alone would not; about 33,645 test examples would detect +2.0 pts"
    )
    two = {
        **base,
        "n_seeds": 2,
        "diff_method": "examples",
        "verdict": "too_few_seeds",
        "these_runs": "better",
        "by_seed": base["by_seed"][:2],
        "seeds_needed": 4,
        "diff_mde": None,
    }
    text = verdict(two, **kw)["text"]
    assert text.startswith(
        "accuracy under attack: +6.1 pts on these 2 training runs (unadjusted 95% CI +3.0 to +9.2 over 300 "
        "test examples, seeds held fixed; better on these runs, Holm-adjusted p = 0.013"
    )
    assert "2 seeds cannot tell this from seed-to-seed variation" in text and "about 4 seeds would detect" in text
    # ECE and other metrics without per-example outcomes: a claim about this test set, in its own Holm family.
    ece = {**base, "diff_method": "seeds", "scope": "test_set", "family_size": 2, "by_seed": []}
    assert verdict(ece, **{**kw, "better": "lower ECE"})["text"] == (
        "lower ECE on this test set: +6.1 pts (unadjusted 95% CI +3.0 to +9.2 over 3 seeds, on this test set, "
        "p = 0.0021; "
        "Holm-adjusted p = 0.013 across 2 test-set comparisons)"
    )
    # A run that collapsed to chance is named, and the seeds counted are the ones the difference used.
    lost = {**no, "collapsed_seeds": [4], "diff_n_seeds": 4, "n_seeds": 4}
    text = verdict(lost, **kw)["text"]
    assert "over 4 seeds and 300 test examples" in text
    assert text.endswith("seed 4 left out: its model collapsed to chance on the clean test set")
    lower = {**base, "diff_mean": -0.03, "diff_ci_low": -0.05, "diff_ci_high": -0.01, "verdict": "better"}
    assert verdict(
        lower,
        what="failure rate",
        better="better failure rate",
        worse="worse failure rate",
        confidence=0.95,
        higher_is_better=False,
    )["text"].startswith("better failure rate: −3.0 pts")


def test_successes_the_validity_judge_rejected_get_their_own_table(run_dir):
    """Attack records whose info says the judge rejected them are listed apart (issue 24), kept in the attack's own."""
    for path in (run_dir / "units").glob("*/seed*/examples.jsonl"):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for i, r in enumerate(rows):
            if r["evaluation"] == f"attack:{RECIPE}" and r["model_failed"]:
                r["info"] = {**r["info"], "judge": "rejected" if i % 3 == 0 else "kept", "judge_p": 0.1 * (i % 10)}
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    html_path = build_report(run_dir)
    report = json.loads(html_path.with_suffix(".json").read_text())
    blocks = {b["evaluation"]: b for b in report["examples"]["failures"]}
    rejected = blocks[f"attack:{RECIPE}: rejected by the validity judge"]
    assert 0 < rejected["total"] < blocks[f"attack:{RECIPE}"]["total"]
    assert all(r["info"]["judge"] == "rejected" for r in rejected["rows"])
    assert "the validity judge says changed the gold label" in _plain(html_path.read_text(encoding="utf-8"))
