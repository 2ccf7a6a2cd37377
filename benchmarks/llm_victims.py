"""A prompted LLM as the victim, end to end on real data (issue 23's evidence): SmolLM2-135M-Instruct zero-shot on
SST-2 dev, in one ``textrobust scan`` — clean accuracy, the prompt-format spread, TextFooler and DeepWordBug (score
based) and the hard-label attack (label only) — then the same model behind ``textrobust serve --openai`` on
127.0.0.1, and the scan killed with SIGKILL at random moments and resumed.

    python benchmarks/llm_victims.py scan      # in-process               -> OUT/inprocess
    python benchmarks/llm_victims.py api       # served, chat completions -> OUT/api
    python benchmarks/llm_victims.py kill      # 5 x kill -9, then resume  -> OUT/killed
    python benchmarks/llm_victims.py compare   # the tables and the parity / resume checks

Options: ``--n`` sentences (200: the CPU size), ``--attack-n`` (50: each attack's share of them), ``--spread-n`` (the
format spread's share; default all n), ``--attacks`` (recipes, comma-separated), ``--out`` (runs/llm),
``--threads``, ``--precision``, ``--kills``.
``compare`` prints the scan's headline table, then: per-example predictions in-process vs served (clean and every
format of the spread), attack outcomes per example (status and perturbed text) in-process vs served and vs the
killed-and-resumed scan, the results tables (timings aside), and the model calls the cache counted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPT = ROOT / "examples" / "prompts" / "sst2.yaml"
ATTACKS = ("textfooler", "deepwordbug", "hardlabel")


def _data() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from textrobust.data import shared_data_dir

    return str(shared_data_dir() / "sst2" / "dev.tsv")


def scan_command(model: str, out: Path, args: argparse.Namespace) -> list[str]:
    """The one scan every variant runs (only the model and the output differ)."""
    spread = f"format_spread:k={args.k}" + (f",n={args.spread_n}" if args.spread_n else "")
    evals = ["clean", spread] + [f"attack:recipe={r},n={args.attack_n}" for r in args.attacks]
    cmd = [sys.executable, "-m", "textrobust", "scan", _data(), "--text-column", "sentence"]
    cmd += ["--data-labels", "negative,positive", "-m", model, "--prompt", str(PROMPT), "-n", str(args.n)]
    for e in evals:
        cmd += ["--eval", e]
    cmd += ["--resource", "encoder=minilm", "--threads", str(args.threads), "--precision", args.precision]
    return cmd + ["-o", str(out)]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}


def run_scan(args: argparse.Namespace) -> None:
    out = args.out / "inprocess"
    subprocess.run(scan_command("smollm2", out, args), check=True, cwd=ROOT, env=_env())


def run_api(args: argparse.Namespace) -> None:
    """Serve SmolLM2 behind the chat API on 127.0.0.1 (any free port) and scan it there."""
    log = (args.out / "serve.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "textrobust",
            "serve",
            "--openai",
            "smollm2",
            "--port",
            str(args.port),
            "--no-access-log",
        ]
        + ["--max-top-logprobs", "100", "--threads", str(args.threads), "--precision", args.precision]
        + ["--max-queue", "4096", "--request-timeout", "600"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=_env(),
    )
    url = None
    assert server.stderr is not None
    for line in server.stderr:
        log.write(line)
        m = re.search(r"scan it as (openai\+\S+)\)", line)
        if m:
            url = m.group(1)
            break
    if url is None:
        raise SystemExit("the server did not start (see serve.log)")
    try:
        model = f"{url}&top_logprobs=100&concurrency=32"
        subprocess.run(
            scan_command(model, args.out / "api", args) + ["--timeout", "600"], check=True, cwd=ROOT, env=_env()
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)


def _cached(out: Path) -> int:
    import sqlite3

    path = out / "cache" / "model_calls.sqlite"
    if not path.is_file():
        return 0
    try:
        return sqlite3.connect(path, timeout=30).execute("SELECT count(*) FROM calls").fetchone()[0]
    except sqlite3.DatabaseError:  # created a moment ago: no table yet
        return 0


def run_kill(args: argparse.Namespace) -> None:
    """SIGKILL the scan at ``--kills`` random points of its work, then let it finish. A kill lands once the cache
    holds a random number of answers (uniform over 5-90% of ``--expected-calls``, sorted), plus a random 0-20 s, so
    kills fall in every evaluation and mid-call, and each restart first re-reads what is cached."""
    rng = random.Random(args.seed)
    out = args.out / "killed"
    targets = sorted(int(rng.uniform(0.05, 0.9) * args.expected_calls) for _ in range(args.kills))
    done = []
    for k, target in enumerate(targets):
        proc = subprocess.Popen(scan_command("smollm2", out, args), cwd=ROOT, env=_env(), stderr=subprocess.DEVNULL)
        while proc.poll() is None and _cached(out) < target:
            time.sleep(2)
        time.sleep(rng.uniform(0, 20))
        if proc.poll() is None:
            before = _cached(out)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            done.append({"kill": k + 1, "cached_at_kill": before, "target": target})
        else:
            done.append({"kill": k + 1, "finished_first": True})
        print(json.dumps(done[-1]), flush=True)
    subprocess.run(scan_command("smollm2", out, args), check=True, cwd=ROOT, env=_env())
    (args.out / "kills.json").write_text(json.dumps(done, indent=2))


# ------------------------------------------------------------------------------------------------ compare
def _outcomes(run: Path) -> dict[tuple[str, str, str], float]:
    import pandas as pd

    df = pd.read_parquet(run / "units" / "model" / "seed0" / "outcomes.parquet")
    return {(e, m, i): v for e, m, i, v in zip(df.evaluation, df.metric, df.item, df.value, strict=True)}


def _attacks(run: Path) -> dict[tuple[str, str], tuple[str, str]]:
    out = {}
    for line in (run / "units" / "model" / "seed0" / "examples.jsonl").open():
        r = json.loads(line)
        if r["evaluation"].startswith("attack:"):
            out[(r["evaluation"], r["item"])] = (r["info"].get("status"), r["text"])
    return out


def _table(run: Path) -> dict[tuple[str, str], float]:
    import pandas as pd

    summary = json.loads((run / "summary.json").read_text())
    timing = {(m["evaluation"], m["metric"]) for m in summary["metrics"] if m.get("timing")}
    df = pd.read_csv(run / "results.csv")
    return {(e, m): v for e, m, v in zip(df.evaluation, df.metric, df.value, strict=True) if (e, m) not in timing}


def _calls(run: Path) -> dict[str, int]:
    import sqlite3

    db = sqlite3.connect(run / "cache" / "model_calls.sqlite")
    entries, repeated = db.execute("SELECT count(*), coalesce(sum(computed > 1), 0) FROM calls").fetchone()
    sessions = db.execute("SELECT looked_up, hits, computed, repeats FROM sessions ORDER BY started").fetchall()
    return {
        "entries": entries,
        "entries_computed_twice": repeated,
        "sessions": len(sessions),
        "computed_all_sessions": sum(s[2] for s in sessions),
        "hits_all_sessions": sum(s[1] for s in sessions),
        "repeats_counted": sum(s[3] for s in sessions),
        "last_session": dict(zip(("looked_up", "hits", "computed", "repeats"), sessions[-1], strict=True)),
    }


def compare(args: argparse.Namespace) -> None:
    ref = args.out / "inprocess"
    summary = json.loads((ref / "summary.json").read_text())
    head = {(m["evaluation"], m["metric"]) for m in summary["metrics"]}
    print(f"## SmolLM2-135M-Instruct zero-shot, SST-2 dev (n={args.n}), {ref}\n")
    print("| evaluation | metric | value | 95% CI |\n|---|---|---|---|")
    for r in summary["rows"]:
        if (r["evaluation"], r["metric"]) in head and r["metric"] in (
            "accuracy", "accuracy_min", "accuracy_median", "accuracy_max", "spread", "worst_format",
            "accuracy_under_attack", "success_rate", "avg_queries", "avg_words_perturbed_pct",
        ):  # fmt: skip
            ci = "" if r["ci_low"] is None else f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
            value = "—" if r["mean"] is None else f"{r['mean']:.3f}"  # e.g. words perturbed when none succeeded
            print(f"| {r['evaluation']} | {r['metric']} | {value} | {ci} |")
    result: dict[str, object] = {"n": args.n}
    base_out, base_att = _outcomes(ref), _attacks(ref)
    for other in ("api", "killed"):
        run = args.out / other
        if not (run / "summary.json").is_file():
            continue
        out, att = _outcomes(run), _attacks(run)
        preds = [k for k in base_out if k[0] in ("clean", "format_spread") and k[1].startswith("accuracy")]
        same = sum(base_out[k] == out.get(k) for k in preds)
        ran = {e for e, _ in att}  # attacks the other run ran (a served run may leave some out)
        atk = sorted(k for k in base_att if k[0] in ran)
        same_atk = sum(base_att[k] == att.get(k) for k in atk)
        t_ref, t_run = _table(ref), _table(run)
        diff = sorted(
            k
            for k in t_ref
            if (k[0] in ran or not k[0].startswith("attack:"))
            and not (t_ref[k] == t_run.get(k) or (t_ref[k] != t_ref[k] and t_run.get(k) != t_run.get(k)))
        )
        result[other] = {
            "per_example_correctness_same": f"{same}/{len(preds)} ({same / max(1, len(preds)):.2%})",
            "attack_outcomes_same": f"{same_atk}/{len(atk)} ({same_atk / max(1, len(atk)):.2%})",
            "attack_outcomes_differ": [list(k) for k in atk if base_att[k] != att.get(k)][:20],
            "results_rows_differ": [list(k) for k in diff],
            "calls": _calls(run) if (run / "cache" / "model_calls.sqlite").is_file() else None,
        }
    result["inprocess_calls"] = _calls(ref)
    kills = args.out / "kills.json"
    if kills.is_file():
        result["kills"] = json.loads(kills.read_text())
    print("\n" + json.dumps(result, indent=2))
    (args.out / "compare.json").write_text(json.dumps(result, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["scan", "api", "kill", "compare"])
    ap.add_argument("--n", type=int, default=200, help="test sentences (clean accuracy and the format spread)")
    ap.add_argument("--attack-n", type=int, default=50, help="sentences each attack attacks (the first of the n)")
    ap.add_argument("--expected-calls", type=int, default=6000, help="kill: the scan's model calls, roughly")
    ap.add_argument("--k", type=int, default=10, help="prompt formats of the spread")
    ap.add_argument("--spread-n", type=int, default=None, help="sentences of the format spread (default: all n)")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "llm")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--port",
        type=int,
        default=0,
        help="api: the server's port (0: any free one; the cache of an endpoint's answers is keyed by its URL)",
    )
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument(
        "--attacks",
        type=lambda s: [r for r in s.split(",") if r],
        default=list(ATTACKS),
        help="recipes, comma-separated",
    )
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    {"scan": run_scan, "api": run_api, "kill": run_kill, "compare": compare}[args.step](args)


if __name__ == "__main__":
    main()
