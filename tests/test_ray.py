"""The Ray backend against the local one, on a real local Ray instance (2 CPUs, no dashboard, this machine only):

- ``run``: the units of a tiny experiment (2 conditions x 2 seeds) write what the local backend writes, also into a
  staged (URI) run directory; a unit that raises is retried, reported, the others finish, and resume reruns it only;
- ``augment``: a few thousand rows, every input and output format, byte-identical to ``augment_file``, order
  restored by row id; resume keeps the parts already written; a model-backed operator runs in actors;
- ``attack``: a few dozen examples sharded over actors, per-example results and summary equal to one process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import CPU, assert_same_run, tiny_corpus, tiny_experiment

from textrobust.robustness import Runner, parse_experiment
from textrobust.robustness.work import UnitWork

pytestmark = pytest.mark.ray
ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install '.[ray]')")


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray instance for the module: 2 CPUs, no dashboard, no usage stats, this machine only."""
    import os

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # The failing-unit test's Runner subclass lives in this module, which the workers cannot import: ship it by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def spec(tmp_path, tiny_model_dir):
    return tiny_experiment(tmp_path, tiny_model_dir, ["case", "typo"])


def test_ray_units_match_the_local_backend_and_a_staged_run_dir(ray_local, spec, tmp_path):
    import torch

    from textrobust.scale import RayExecutor, open_run_store
    from textrobust.scale.units import StoreSync

    exp = parse_experiment(spec)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what a 1-CPU unit uses: float sums are then computed in the same order, bit for bit
    try:
        Runner(exp, tmp_path / "local", progress=False).run()
    finally:
        torch.set_num_threads(threads)
    # A URI run directory, staged: workers write into their own local copy and upload; the driver downloads.
    store = open_run_store(f"file://{tmp_path / 'remote'}", stage=True, stage_dir=tmp_path / "stage")
    with store:
        runner = Runner(exp, store.local, progress=False, executor=RayExecutor(), sync=StoreSync(store))
        runner.run()
    assert not runner.failed
    assert_same_run(tmp_path / "local", tmp_path / "remote")
    from textrobust.reports import build_report

    reports = [json.loads(build_report(tmp_path / d).with_suffix(".json").read_text()) for d in ("local", "remote")]
    for r in reports:  # the environment (host, duration, command) and timings differ by nature
        r.pop("environment", None)
    assert reports[0]["examples"] == reports[1]["examples"]
    assert reports[0]["units"] == reports[1]["units"] if "units" in reports[0] else True


class FlakyWork(UnitWork):
    """Unit 'char' always raises; every attempt leaves a file, so the count survives the worker processes."""

    def run(self, ws, phase):
        u = self.unit
        marks = Path(self.exp.output) / "attempts"
        marks.mkdir(parents=True, exist_ok=True)
        (marks / f"{u.condition}-{u.seed}-{len(list(marks.glob(f'{u.condition}-{u.seed}-*')))}").touch()
        if u.condition == "char":
            raise RuntimeError("CUDA out of memory (simulated)")
        super().run(ws, phase)


def test_a_failing_ray_unit_is_retried_reported_and_resumed(ray_local, spec, tmp_path):
    from textrobust.scale import RayExecutor

    spec.update(seeds=[0, 1], evaluations=[{"kind": "clean"}])
    exp = parse_experiment(spec)
    runner = Runner(exp, tmp_path / "run", progress=False, executor=RayExecutor(), work_type=FlakyWork)
    table = runner.run()
    marks = sorted(p.name for p in (tmp_path / "run" / "attempts").iterdir())
    assert marks == ["baseline-0-0", "baseline-1-0", "char-0-0", "char-0-1", "char-1-0", "char-1-1"]  # retried once
    assert set(table.condition) == {"baseline"}
    assert sorted(f["unit"] for f in runner.failed) == ["char/seed0", "char/seed1"]
    failed = json.loads((tmp_path / "run/units/char/seed0/failed.json").read_text())
    assert failed["error"] == "RuntimeError: CUDA out of memory (simulated)" and failed["attempts"] == 2
    assert "test_ray.py" in failed["traceback"] and "CUDA out of memory" in failed["traceback"]  # the worker's
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert summary["units"]["done"] == 2 and [f["unit"] for f in summary["units"]["failed"]] == [
        "char/seed0",
        "char/seed1",
    ]
    # Resume: only the failed units are submitted again; this time they finish.
    again = Runner(exp, tmp_path / "run", progress=False, executor=RayExecutor())
    again.run()
    assert not again.failed and json.loads((tmp_path / "run/summary.json").read_text())["units"]["done"] == 4
    assert not (tmp_path / "run/units/char/seed0/failed.json").exists()
    assert sorted(p.name for p in (tmp_path / "run" / "attempts").iterdir()) == marks  # FlakyWork ran no more


# -- augment ------------------------------------------------------------------------------------------------------
def _augment_input(tmp_path: Path, fmt: str) -> Path:
    """~3,000 rows with the awkward cases: an empty text, 'NA' and 'nan' as text, commas, quotes, unicode."""
    rows = tiny_corpus() * 4 + [("", 0), ("NA", 1), ("nan", 0), ('a "quoted", comma film', 1), ("très bon 😀", 1)]
    frame = pd.DataFrame({"text": [t for t, _ in rows], "label": [y for _, y in rows]})
    path = tmp_path / f"in.{fmt}"
    {
        "csv": lambda: frame.to_csv(path, index=False),
        "tsv": lambda: frame.to_csv(path, index=False, sep="\t"),
        "jsonl": lambda: frame.to_json(path, orient="records", lines=True, force_ascii=False),
        "parquet": lambda: frame.to_parquet(path),
    }[fmt]()
    return path


AUG_OPS = ["char:kind=ocr", "eda:alpha_sr=0,alpha_ri=0"]


@pytest.mark.parametrize("src,dst", [("csv", "jsonl"), ("tsv", "parquet"), ("jsonl", "csv"), ("parquet", "tsv")])
def test_ray_augment_is_byte_identical_to_one_process(ray_local, tmp_path, src, dst):
    from textrobust.augment import augment_file, parse_op
    from textrobust.augment.filters import Dedup, Length
    from textrobust.scale import augment_file_ray

    inp = _augment_input(tmp_path, src)
    ops = [parse_op(o) for o in AUG_OPS]
    # Small batches: ~30 tasks finish in any order, and the output must still come back in input order. (Parquet
    # row groups follow the batch size, in both backends, so the bytes match for the same batch size.)
    kw = dict(n=2, seed=3, keep_original=True, batch_size=97, progress=False, filters=[Dedup(), Length(min_words=2)])
    local = augment_file(inp, tmp_path / f"local.{dst}", ops, **kw)
    remote = augment_file_ray(inp, tmp_path / f"ray.{dst}", ops, **kw)
    assert (tmp_path / f"local.{dst}").read_bytes() == (tmp_path / f"ray.{dst}").read_bytes()
    assert (remote.rows_in, remote.rows_out, remote.dropped) == (local.rows_in, local.rows_out, local.dropped)
    assert local.rows_in == len(tiny_corpus()) * 4 + 5 and not list(tmp_path.glob(".ray.*"))


def test_ray_augment_resumes_from_the_parts_a_killed_driver_left(ray_local, tmp_path):
    """A driver killed mid-run leaves the parts its batches wrote (and maybe a half-written temp file): a resumed
    run keeps them, computes only the missing rows, and writes the same file as an uninterrupted run."""
    from textrobust.augment import augment_file, parse_op
    from textrobust.scale import augment as aug_mod
    from textrobust.scale import augment_file_ray

    inp = _augment_input(tmp_path, "csv")
    ops = [parse_op(o) for o in AUG_OPS]
    augment_file(inp, tmp_path / "ref.parquet", ops, n=2, batch_size=256, progress=False)
    out = tmp_path / "out.parquet"
    real_merge = aug_mod._merge
    aug_mod._merge = lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt())  # the driver dies before merging
    try:
        with pytest.raises(KeyboardInterrupt):
            augment_file_ray(inp, out, ops, n=2, batch_size=256, progress=False)
    finally:
        aug_mod._merge = real_merge
    parts_dir = tmp_path / ".out.parquet.ray-parts"
    parts = sorted(parts_dir.glob("part-*.parquet"))
    assert len(parts) > 4 and not out.exists()
    for p in parts[1::2]:  # the batches still in flight when it died
        p.unlink()
    (parts_dir / ".part-000000000000-000000000255.parquet.123.tmp").write_bytes(b"half a file")
    kept = sum(int(p.stem.split("-")[2]) - int(p.stem.split("-")[1]) + 1 for p in parts[::2])
    summary = augment_file_ray(inp, out, ops, n=2, batch_size=256, progress=False, resume=True)
    assert summary.resumed_from == kept > 0
    assert out.read_bytes() == (tmp_path / "ref.parquet").read_bytes() and not parts_dir.exists()
    # Different settings are refused rather than mixed into the old parts.
    with pytest.raises(KeyboardInterrupt):
        aug_mod._merge = lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt())
        try:
            augment_file_ray(inp, out, ops, n=2, batch_size=256, progress=False)
        finally:
            aug_mod._merge = real_merge
    from textrobust.errors import ConfigError

    with pytest.raises(ConfigError, match="different settings"):
        augment_file_ray(inp, out, ops, n=3, batch_size=256, progress=False, resume=True)


def test_ray_augment_model_backed_operator_runs_in_actors(ray_local, tmp_path, tiny_tokenizer_dir, tiny_bert_config):
    from conftest import save_tiny_model
    from transformers import BertForMaskedLM

    from textrobust.augment import augment_file, parse_op
    from textrobust.scale import augment_file_ray

    mlm = save_tiny_model(BertForMaskedLM, tiny_bert_config, tiny_tokenizer_dir, tmp_path / "mlm")
    rows = tiny_corpus()[:300]
    pd.DataFrame({"text": [t for t, _ in rows], "label": [y for _, y in rows]}).to_csv(tmp_path / "in.csv", index=False)
    op = parse_op(f"contextual:model={mlm},p=0.3,batch_size=16")
    augment_file(tmp_path / "in.csv", tmp_path / "local.jsonl", [op], n=2, batch_size=64, progress=False)
    augment_file_ray(
        tmp_path / "in.csv", tmp_path / "ray.jsonl", [op], n=2, batch_size=64, progress=False, concurrency=2
    )
    assert (tmp_path / "local.jsonl").read_bytes() == (tmp_path / "ray.jsonl").read_bytes()


# -- attack -------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def attacked_model(tmp_path_factory, tiny_model_dir):
    """A tiny classifier trained for a moment and saved, so actors load it from disk as a user's model."""
    from textrobust.data import LabeledData
    from textrobust.models import TextClassifier, TrainConfig

    rows = tiny_corpus()
    train = LabeledData([t for t, _ in rows], [y for _, y in rows], ["neg", "pos"])
    clf = TextClassifier(
        tiny_model_dir,
        labels=["neg", "pos"],
        max_length=32,
        runtime=CPU,
        train_config=TrainConfig(epochs=3, lr=3e-3, batch_size=16),
    )
    clf.fit(train, progress=False)
    out = tmp_path_factory.mktemp("attacked") / "model"
    clf.save(out)
    return out


def test_ray_attack_shards_equal_the_one_process_attack(ray_local, attacked_model, tmp_path):
    """deepwordbug draws random character edits per example: equal results need every shard to seed each example
    with its index in the whole list, and the merge to restore the input order."""
    import torch

    from textrobust.adversarial import build_attack, run_attack
    from textrobust.models import load_model
    from textrobust.scale import AttackSetup, ShardedAttack

    rows = tiny_corpus()[::12][:40]
    texts, labels = [t for t, _ in rows], [y for _, y in rows]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in each 1-CPU actor: the same float sums, bit for bit
    try:
        local = run_attack(
            build_attack("deepwordbug", load_model(str(attacked_model), runtime=CPU)),
            texts,
            labels,
            batch_size=8,
            seed=5,
            progress=False,
        )
    finally:
        torch.set_num_threads(threads)
    setup = AttackSetup(str(attacked_model), "deepwordbug", runtime=CPU)
    with ShardedAttack(setup, actors=2) as sharded:
        assert sharded.labels == ["neg", "pos"]
        remote = sharded.run(texts, labels, batch_size=8, seed=5, shard_size=7, progress=False)  # 6 shards
    assert [r.index for r in remote.results] == list(range(len(texts)))
    # Everything equal; probabilities to float rounding: a shard pads its model batches to other lengths.
    probs = ("original_probs", "perturbed_probs")
    for a, b in zip(remote.results, local.results, strict=True):
        da, db = a.to_dict(), b.to_dict()
        assert {k: v for k, v in da.items() if k not in probs} == {k: v for k, v in db.items() if k not in probs}
        assert all(da[k] == pytest.approx(db[k], abs=1e-6) for k in probs)
    timing = {"elapsed_s", "examples_per_s", "model_calls", "model_texts"}
    assert {k: v for k, v in remote.summary().items() if k not in timing} == {
        k: v for k, v in local.summary().items() if k not in timing
    }
    assert local.count("succeeded") > 0 and remote.extra == {"actors": 2, "shards": 6}


def test_cli_ray_errors_are_one_line(tmp_path):
    """Without Ray installed, and with a cluster address nobody answers: one line on stderr, exit code 2."""
    import subprocess

    (tmp_path / "in.csv").write_text("text,label\na good film,1\n")
    no_ray = (
        "import sys; sys.modules['ray'] = None; from textrobust.cli import main; "
        f"main(['augment', {str(tmp_path / 'in.csv')!r}, '-o', {str(tmp_path / 'o.csv')!r}, "
        "'--op', 'char', '--backend', 'ray'])"
    )
    res = subprocess.run([sys.executable, "-c", no_ray], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0
    assert "pip install 'textrobust[ray]'" in res.stderr
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "textrobust",
            "augment",
            str(tmp_path / "in.csv"),
            "-o",
            str(tmp_path / "o.csv"),
            "--op",
            "char",
            "--backend",
            "ray",
            "--address",
            "127.0.0.1:9",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and res.stderr.startswith("error: cannot reach the Ray cluster at 127.0.0.1:9")
    assert res.stderr.strip().count("\n") == 0
    res = subprocess.run(
        [sys.executable, "-m", "textrobust", "run", str(tmp_path / "x.yaml"), "--address", "a:1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and "--address applies to --backend ray" in res.stderr


def test_cli_run_backend_ray_joins_a_cluster_by_address(ray_local, spec, tmp_path):
    """The CLI as a user runs it, as a second driver joining the running cluster with --address."""
    import subprocess

    import yaml

    spec.update(conditions={"baseline": {}}, seeds=[0], evaluations=[{"kind": "clean"}])
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(spec))
    address = ray.get_runtime_context().gcs_address
    cmd = [
        sys.executable,
        "-m",
        "textrobust",
        "run",
        str(tmp_path / "exp.yaml"),
        "--backend",
        "ray",
        "--address",
        address,
        "--num-cpus",
        "1",
        "--no-report",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["units"] == {"total": 1, "done": 1, "failed": [], "missing": 0}
    assert "results:" in res.stdout and "config.json" in {p.name for p in (tmp_path / "run").iterdir()}
