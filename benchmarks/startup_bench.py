"""Start-up cost of ``textrobust attack``: imports, model load, resource load, each in fresh processes.

Every phase runs in a new Python process ``--repeat`` times (median and range printed), in the order the CLI meets
them: the CLI module (``textrobust --help`` must stay instant), torch, transformers' model classes, loading a
saved classifier and its first forward pass, the counter-fitted neighbour JSON, and the MiniLM sentence encoder with
its first forward pass. A phase's time excludes the phases before it (they run first, untimed, in the same process).

Usage:
    .venv/bin/python benchmarks/startup_bench.py --model-dir /tmp/mr3k --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import format_table

# Each phase: (name, setup code run untimed first, timed code). {model} and {neighbours} are filled in.
PHASES = [
    ("import textrobust.cli", "", "import textrobust.cli"),
    ("import torch", "import textrobust.cli", "import torch"),
    (
        "import transformers (model classes)",
        "import torch",
        "from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer",
    ),
    (
        "load classifier + first forward",
        "import torch, transformers; from textrobust.models import Runtime, TextClassifier",
        "c = TextClassifier.load({model!r}, runtime=Runtime(device='cpu')); c.predict_proba(['a fine film'])",
    ),
    (
        "load neighbour JSON (LexiconSource)",
        "from textrobust.augment.sources import load_source",
        "load_source('lexicon', {neighbours!r})",
    ),
    (
        "load MiniLM encoder + first forward",
        "import torch, transformers; from textrobust.adversarial import SentenceEncoder; "
        "from textrobust.models import Runtime",
        "SentenceEncoder(runtime=Runtime(device='cpu'))(['a fine film'])",
    ),
]

SNIPPET = """
import time, json
{setup}
t = time.perf_counter()
{timed}
print(json.dumps(time.perf_counter() - t))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True, help="a model saved by 'textrobust train'")
    p.add_argument(
        "--neighbours", default=None, help="default: <shared data>/word_resources/counterfitted_neighbors.json"
    )
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from textrobust.data import shared_data_dir

    nb = args.neighbours or str(shared_data_dir() / "word_resources" / "counterfitted_neighbors.json")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    rows, load = [], [os.getloadavg()[0]]
    for name, setup, timed in PHASES:
        code = SNIPPET.format(setup=setup, timed=timed.format(model=args.model_dir, neighbours=nb))
        times = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            times.append(json.loads(out.stdout.strip().splitlines()[-1]))
        rows.append([name, statistics.median(times), min(times), max(times)])
        print(f"{name}: median {rows[-1][1]:.2f}s", flush=True)
    load.append(os.getloadavg()[0])
    print(f"\n{args.repeat} fresh processes per phase; load average {load[0]:.1f} before, {load[1]:.1f} after")
    print(format_table(["phase", "median s", "min s", "max s"], rows))


if __name__ == "__main__":
    main()
