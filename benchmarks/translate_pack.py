"""Write a translation file for a behaviour test pack with the offline Bergamot models (en -> pt only): the file
``load_pack(pack, translations=...)`` reads. The shipped ``sentiment.pt`` was made with this script; it is machine
translation, unreviewed.

    python benchmarks/translate_pack.py --pack sentiment --lang pt \
        -o src/textrobust/resources/testpacks/sentiment.pt.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from textrobust.models.translation import BergamotTranslator
from textrobust.robustness.testpack import load_pack, pack_texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", default="sentiment")
    ap.add_argument("--lang", default="pt", choices=["pt"], help="Bergamot has en->pt only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args()
    pack = load_pack(args.pack)
    texts = pack_texts(pack, args.seed)
    start = time.perf_counter()
    out = BergamotTranslator().translate(texts, f"{pack.language}-{args.lang}")
    rows = [{"source": s, "target": t or s, "lang": args.lang} for s, t in zip(texts, out, strict=True)]
    args.output.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} texts translated {pack.language}->{args.lang} in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
