"""ONE table of every figure ``benchmarks/gpu_all.sh`` measured: markdown (``OUT/gpu_all.md``) and JSON
(``OUT/gpu_all.json``), read from the script's working folder after its steps ran.

Every number comes from that folder: the wall times the script recorded per step (``steps.tsv``), the GPU utilisation
``nvidia-smi`` sampled every 2 s during the main job (``util_<step>.csv``), the run directories of
``textrobust run`` (``runs/<step>/summary.json`` and ``results.parquet``) and the JSON each benchmark wrote
(``json/<step>.json``). A step that failed, ran out of time or was skipped gives a row saying so. Targets are
issue 22's.

    python benchmarks/gpu_table.py --work /tmp/gpu_all.XXXX --out "$OUT"
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path
from typing import Any

#: The main job's two runs: step name -> the --jobs value.
MAIN_STEPS = {"main_jobs1": "1", "main_auto": "auto"}
ARCH_STEPS = {"minilm": "MiniLM", "bert": "BERT-base"}
RECIPES = ("textfooler", "pwws", "deepwordbug", "a2t")


def read_steps(work: Path) -> dict[str, dict[str, Any]]:
    """``steps.tsv``: name -> {status, seconds, cap, rc} (the last line of a name wins)."""
    steps: dict[str, dict[str, Any]] = {}
    path = work / "steps.tsv"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            name, status, seconds, cap, rc = (line.split("\t") + ["", "", "", ""])[:5]
            steps[name] = {"status": status, "seconds": float(seconds or 0), "cap": cap, "rc": rc}
    return steps


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def utilisation(path: Path) -> dict[str, Any] | None:
    """Median and max GPU utilisation (%) and max memory used (MiB) of ``nvidia-smi ... -l 2`` samples."""
    util, mem = [], []
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as fh:
        for row in csv.reader(fh):
            try:
                util.append(float(row[0]))
                mem.append(float(row[1]))
            except (IndexError, ValueError):
                continue
    if not util:
        return None
    return {"samples": len(util), "median": statistics.median(util), "max": max(util), "max_mem_mib": max(mem)}


def same_results(a: Path, b: Path) -> dict[str, Any] | None:
    """Non-timing values of two run directories: how many differ by more than 1e-6, and the largest difference."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        return None
    summary = read_json(a / "summary.json")
    if summary is None or not (a / "results.parquet").exists() or not (b / "results.parquet").exists():
        return None
    timing = {(m["evaluation"], m["metric"]) for m in summary.get("metrics", []) if m.get("timing")}
    keys = ["condition", "seed", "evaluation", "metric"]
    frames = []
    for d in (a, b):
        t = pd.read_parquet(d / "results.parquet")
        keep = [(e, m) not in timing for e, m in zip(t.evaluation, t.metric, strict=True)]
        frames.append(t[keep].groupby(keys, dropna=False)["value"].mean())
    both = pd.concat(frames, axis=1, keys=["a", "b"]).dropna()
    diff = (both["a"] - both["b"]).abs()
    return {"values": len(both), "differ": int((diff > 1e-6).sum()), "max_abs_diff": float(diff.max() or 0.0)}


def fmt(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


class Table:
    def __init__(self, steps: dict[str, dict[str, Any]]) -> None:
        self.steps = steps
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        figure: str,
        value: str,
        *,
        against: str = "",
        ratio: float | None = None,
        target: str = "",
        met: bool | None = None,
        note: str = "",
    ) -> None:
        self.rows.append(
            {
                "figure": figure,
                "value": value,
                "against": against,
                "ratio": ratio,
                "target": target,
                "met": met,
                "note": note,
            }
        )

    def missing(self, figure: str, step: str, target: str = "") -> None:
        s = self.steps.get(step)
        why = "not run" if s is None else f"{s['status']} after {s['seconds']:.0f} s (rc {s['rc']})"
        self.add(figure, "not measured", target=target, note=f"step {step}: {why}; see gpu_logs.tar.gz logs/{step}.txt")

    def ok(self, step: str) -> bool:
        return self.steps.get(step, {}).get("status") == "ok"

    def markdown(self) -> str:
        lines = [
            "| figure | measured | compared with | ratio | target | met | notes |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x"
            met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
            cells = [r["figure"], r["value"], r["against"], ratio, r["target"], met, r["note"]]
            lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
        return "\n".join(lines)


def main_job(t: Table, work: Path) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for step, jobs in MAIN_STEPS.items():
        s = t.steps.get(step)
        summary = read_json(work / "runs" / step / "summary.json")
        util = utilisation(work / f"util_{step}.csv")
        if s is None or summary is None:
            t.missing(f"main job `--jobs {jobs}`", step, "")
            continue
        units = summary.get("units", {})
        done, total = units.get("done", 0), units.get("total", 0)
        facts[step] = {"seconds": s["seconds"], "done": done, "total": total, "util": util, "status": s["status"]}
        u = "no nvidia-smi samples"
        if util is not None:
            u = f"GPU util median {util['median']:.0f}%, max {util['max']:.0f}%"
        mem = "" if util is None else f", max {util['max_mem_mib']:,.0f} MiB"
        rate = 60 * done / s["seconds"] if s["seconds"] else float("nan")
        against, ratio = "", None
        one = facts.get("main_jobs1")
        if jobs != "1" and one and one["done"] and done:
            against = f"`--jobs 1`: {one['seconds']:.0f} s for {one['done']} units"
            ratio = (one["seconds"] / one["done"]) / (s["seconds"] / done)
        t.add(
            f"main job `textrobust run examples/mr_adversarial.yaml --jobs {jobs}`",
            f"{s['seconds']:.0f} s, {done}/{total} units ({rate:.1f} units/min); {u}{mem}",
            against=against,
            ratio=ratio,
            target="median GPU util >= 60%; wall <= 1/4 of 01ab7e2's (issue: 19 of 30 units in 374 s, 1 at a time)",
            met=None if util is None else util["median"] >= 60,
            note=f"step {s['status']}" + ("" if done == total else "; unfinished units: rate from finished ones"),
        )
    if "main_jobs1" in facts and "main_auto" in facts:
        same = same_results(work / "runs" / "main_jobs1", work / "runs" / "main_auto")
        facts["same_results"] = same
        if same is not None:
            t.add(
                "main job: `--jobs auto` results vs `--jobs 1`",
                f"{same['differ']} of {same['values']} non-timing values differ by > 1e-6 "
                f"(largest difference {same['max_abs_diff']:.2g})",
                target="identical (or the difference measured and stated)",
                met=same["differ"] == 0,
            )
    return facts


def quickstart(t: Table) -> None:
    s = t.steps.get("quickstart")
    if s is None or s["status"] != "ok":
        t.missing("`textrobust quickstart` wall time", "quickstart")
        return
    t.add("`textrobust quickstart` wall time", f"{s['seconds']:.1f} s (whole process)", note="issue: 28 s at 01ab7e2")


def training_and_inference(t: Table, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, arch in ARCH_STEPS.items():
        step = f"train_{key}"
        rec = read_json(work / "json" / f"{step}.json")
        if rec is None:
            t.missing(f"fine-tuning, {arch}", step, ">= 1.5x Trainer (random order)")
            t.missing(f"inference at the defaults, {arch}", step, ">= 2x pipeline")
            continue
        out[key] = rec
        by = {r["key"]: r for r in rec["train"]}
        ours, trainer, grouped = by.get("ours"), by.get("trainer_default"), by.get("trainer_grouped")
        if ours and trainer:
            r = ours["throughput"] / trainer["throughput"]
            note = f"Trainer(group_by_length) {grouped['throughput']:,.0f} ex/s" if grouped else ""
            t.add(
                f"fine-tuning, {arch} ({rec['args']['n_train']} examples, batch {rec['args']['batch_size']})",
                f"ours {fmt(ours['throughput'])} examples/s",
                against=f"HF Trainer, random order: {fmt(trainer['throughput'])} examples/s",
                ratio=r,
                target=">= 1.5x",
                met=r >= 1.5,
                note=note,
            )
        inf = {r["key"]: r for r in rec["inference"]}
        mine, pipe = inf.get("ours_budget"), inf.get("pipeline")
        if mine and pipe:
            r = mine["throughput"] / pipe["throughput"]
            t.add(
                f"inference at the defaults, {arch} ({rec['args']['n_infer']} texts)",
                f"ours {fmt(mine['throughput'])} texts/s ({mine['method'].split('default ')[-1].strip('()')})",
                against=f"`pipeline` (batch {rec['args']['batch_size']}): {fmt(pipe['throughput'])} texts/s",
                ratio=r,
                target=">= 2x",
                met=r >= 2.0,
                note=f"label agreement {pipe['agree']:.3f}",
            )
    return out


def attacks(t: Table, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, arch in ARCH_STEPS.items():
        step = f"attack_{key}"
        rec = read_json(work / "json" / f"{step}.json")
        if rec is None:
            t.missing(f"attacks, {arch} victim", step, ">= 50% of the model-only ceiling")
            continue
        out[key] = rec
        seq = {r["recipe"]: r for r in rec["rows"] if r["mode"] == "one-at-a-time"}
        for r in rec["rows"]:
            if r["mode"] != "lockstep":
                continue
            pct = 100 / r["elapsed_over_limit"] if r["elapsed_over_limit"] else float("nan")
            notes = [f"success {r['success_rate']:.2f}, clean acc {r['clean_acc']:.2f}"]
            if "host_s" in r:  # where the time beyond the ceiling went: host work, or smaller model calls
                notes.append(
                    f"host {r['host_s']:.2f} s; model calls {r['model_over_limit']:.2f}x and encoder calls "
                    f"{r['encoder_over_limit']:.2f}x their one-call time"
                )
            if r["recipe"] in seq:
                notes.append(f"one at a time {seq[r['recipe']]['examples_per_s']:.1f} ex/s")
            if r["recipe"] == "pwws" and rec.get("pwws_lexicon"):
                notes.append(f"synonyms: {rec['pwws_lexicon']}")
            t.add(
                f"attack {r['recipe']}, {arch} victim (n {r['n']}, lockstep)",
                f"{r['examples_per_s']:.1f} examples/s; {pct:.0f}% of the ceiling",
                against=f"model-only ceiling: {r['limit_s']:.2f} s vs {r['elapsed_s']:.2f} s elapsed",
                target=">= 50% of the ceiling",
                met=pct >= 50,
                note="; ".join(notes),
            )
        ran = {r["recipe"] for r in rec["rows"]}
        for name in RECIPES:
            if name not in ran:
                t.add(f"attack {name}, {arch} victim", "not measured", note=f"not in the rows of {step}")
    return out


def rule_rows(
    t: Table, times: dict[str, list[float]], names: tuple[str, str], what: str, rule_on: bool, diff: float
) -> None:
    """One row per model for a batching rule of ``inference_bench.py`` (``--sweep cuts``: one padded width per batch,
    the CPU's rule; ``--sweep shapes``: bucketed shapes, CUDA's) against its alternative: ``names`` = (off, on)."""
    off, on = names
    for model in ("classifier", "encoder"):
        a, b = statistics.median(times[f"{model}, {off}"]), statistics.median(times[f"{model}, {on}"])
        t.add(
            f"{model}: {what}",
            f"{on} {a / b:.2f}x as fast as {off}",
            against=f"{off} {a:.3f} s, {on} {b:.3f} s",
            ratio=a / b,
            note=f"rule on this device: {on if rule_on else off}; largest probability change {diff:.1g}",
        )


def token_sweep(t: Table, work: Path) -> dict[str, Any] | None:
    rec = read_json(work / "json" / "inference.json")
    if rec is None:
        t.missing("encoder token-budget sweep", "inference")
        return None
    n = {"classifier": rec.get("classifier_texts"), "encoder": rec.get("encoder_windows")}
    for part in ("encoder", "classifier"):
        times = rec["budget"][part]
        rates = {name.split(", ", 1)[1]: n[part] / statistics.median(ts) for name, ts in times.items() if ts}
        best = max(rates, key=lambda k: rates[k])
        key = "default_encoder_token_budget" if part == "encoder" else "default_token_budget"
        default = f"{rec.get(key, rec.get('default_token_budget'))} tokens"
        t.add(
            f"{part} token-budget sweep ({n[part]} attack-shaped texts, median of {rec['args']['rounds']} rounds)",
            "; ".join(f"{k}: {fmt(v)}/s" for k, v in rates.items()),
            against=f"default {default}: {fmt(rates[default])}/s" if default in rates else "",
            ratio=rates[best] / rates[default] if default in rates else None,
            note=f"fastest: {best} (ratio = fastest / default)",
        )
    cuts = rec.get("cuts") or {}
    for size, part in ((k, v) for k, v in cuts.items() if k.isdigit()):
        rule_rows(
            t,
            part["times"],
            ("full budget", "one width"),
            f"one padded width per batch vs full budget (calls of {size})",
            cuts["rule_on_this_device"],
            part["max_prob_diff"],
        )
    shapes = rec.get("shapes")
    if shapes:
        sizes = shapes["sizes"]
        rule_rows(
            t,
            shapes["times"],
            ("exact", "bucketed"),
            f"bucketed shapes vs exact ({len(sizes)} calls of 1-{max(sizes)} texts)",
            shapes["rule_on_this_device"],
            shapes["max_prob_diff"],
        )
    return rec


def serve(t: Table, work: Path) -> dict[str, Any] | None:
    rec = read_json(work / "json" / "serve.json")
    if rec is None:
        t.missing("`textrobust serve` under load", "serve")
        return None
    new, old = rec["asgi"], rec["legacy"]
    ceiling = max(rec["in_process_texts_per_s"].values()) if rec["in_process_texts_per_s"] else float("nan")
    st = rec["settings"]
    t.add(
        f"`textrobust serve` ({st['clients']} clients x {st['texts']} texts, {st['duration']:g} s, {st['device']})",
        f"{fmt(new['texts_per_s'])} texts/s, p50 {new['p50_ms']:.0f} ms, p99 {new['p99_ms']:.0f} ms",
        against=f"old http.server: {fmt(old['texts_per_s'])} texts/s, p99 {old['p99_ms']:.0f} ms",
        ratio=new["texts_per_s"] / old["texts_per_s"] if old["texts_per_s"] else None,
        note=f"{rec['asgi_batches']['texts_per_call']:.1f} texts per model call; in-process ceiling "
        f"{fmt(ceiling)} texts/s; errors {new['errors']}; answers off by > 1e-5: {new['mismatches']} "
        f"(max {new['max_abs_diff']:.2g})",
    )
    return rec


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", required=True, type=Path, help="gpu_all.sh's working folder")
    p.add_argument("--out", required=True, type=Path, help="where gpu_all.md and gpu_all.json go")
    args = p.parse_args()
    work: Path = args.work
    steps = read_steps(work)
    t = Table(steps)
    raw: dict[str, Any] = {"main": main_job(t, work)}
    quickstart(t)
    raw["train"] = training_and_inference(t, work)
    raw["attack"] = attacks(t, work)
    raw["token_sweep"] = token_sweep(t, work)
    raw["serve"] = serve(t, work)
    settings = read_json(work / "settings.json") or {}
    env = (work / "env.txt").read_text(encoding="utf-8") if (work / "env.txt").exists() else ""
    title = "GPU figures of issue 22"
    if settings.get("dry"):
        title += " -- DRY RUN on the CPU at tiny sizes, not figures"
    get = settings.get
    head = [
        f"# {title}",
        "",
        f"{get('date_utc', '')}; device {get('device_name', '?')}; commit {get('commit', '?')}; "
        f"main job: seeds {settings.get('main_seeds', '?')}, train size {settings.get('main_train', '?')}; "
        f"script wall {settings.get('script_seconds', '?')} s of a {settings.get('budget_s', '?')} s budget; "
        f"MiniLM: {settings.get('minilm', '?')}.",
        "",
    ]
    step_lines = ["", "Steps: " + ", ".join(f"{k} {v['status']} {v['seconds']:.0f} s" for k, v in steps.items())]
    md = "\n".join(head) + t.markdown() + "\n" + "\n".join(step_lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_all.md").write_text(md, encoding="utf-8")
    record = {"settings": settings, "environment": env, "steps": steps, "rows": t.rows, "raw": raw}
    (args.out / "gpu_all.json").write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")
    print(md)


if __name__ == "__main__":
    main()
