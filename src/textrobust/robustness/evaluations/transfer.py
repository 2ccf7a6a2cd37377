"""``transfer``: accuracy on extra labelled test sets — out-of-distribution data (train on SST-2, score MR) and
fixed adversarial sets (texts an attack produced against another model, re-scored: the AdvGLUE-style static
transfer test; ``format: attack`` reads the JSONL/Parquet that ``textrobust attack -o`` writes and keeps the
successful attacks' perturbed texts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..labels import match_labels
from .base import EvalContext, EvalParams, Evaluation, EvaluationResult, MetricInfo, Model, item_ids, record


class TransferSet(BaseModel):
    """One labelled set: any file or directory :func:`textrobust.data.load_dataset` reads, or an attack output."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str
    text_column: str | None = Field(None, description="default 'text' ('perturbed_text' for format: attack)")
    label_column: str = "label"
    encoding: str = "utf-8"
    format: str | None = Field(None, description="as for data sources, or 'attack' for textrobust attack -o output")
    label_names: list[str] | None = Field(None, description="names of integer labels, in order")
    label_map: dict[str, str] | None = Field(None, description="set label -> model label, where names differ")
    size: int | None = Field(None, ge=1, description="score a stratified sample of this many rows")
    sample_seed: int = 0


class TransferParams(EvalParams):
    kind: Literal["transfer"] = "transfer"
    sets: dict[str, TransferSet] = Field(..., min_length=1, description="set name -> source")


class TransferEvaluation(Evaluation):
    """Accuracy on each transfer set (headline)."""

    kind = "transfer"
    Params = TransferParams
    params: TransferParams

    def metrics(self, labels: Sequence[str]) -> list[MetricInfo]:
        out = []
        for s in self.params.sets:
            ev = f"{self.name}:{s}"
            out += [
                self.info(
                    ev, "accuracy", f"accuracy on transfer set {s}", headline=True, chart="Accuracy on transfer sets"
                ),
                self.info(
                    ev,
                    "n",
                    f"examples in transfer set {s}",
                    unit="count",
                    range=(0, None),
                    higher_is_better=None,
                    role="info",
                ),
            ]
        return out

    def examples_scored(self, n_test: int) -> int | None:
        return None  # its own test sets

    def check(self, ctx: EvalContext) -> None:
        for name in self.params.sets:  # unreadable files and unknown labels fail before training
            self.load(name, ctx.label_names, ctx)

    def fingerprint(self) -> Any:
        from ..fingerprint import file_digest
        from ..spec import resolve_path

        files = {name: file_digest(resolve_path(s.path)) for name, s in self.params.sets.items()}
        return {**super().fingerprint(), "files": files}

    def load(self, name: str, model_labels: Sequence[str], ctx: EvalContext) -> Any:
        """The set with labels re-indexed to the model's label order (loaded once per run)."""
        spec = self.params.sets[name]
        return ctx.cached(
            ("transfer", spec.model_dump_json(), tuple(model_labels)),
            lambda: _load_set(spec, list(model_labels), f"evaluation '{self.name}', set '{name}'"),
        )

    def run(self, model: Model, test: Any, ctx: EvalContext) -> EvaluationResult:
        res = EvaluationResult()
        for name in self.params.sets:
            data = self.load(name, model.labels, ctx)
            ev = f"{self.name}:{name}"
            probs = model.predict_proba(data.texts)
            y, pred = np.asarray(data.labels), probs.argmax(1)
            items = item_ids(len(data), f"{name}/")
            res.add_outcomes(ev, "accuracy", items, (pred == y).astype(float))
            res.add(ev, "n", len(data))
            res.records += [
                record(
                    ev,
                    items[i],
                    model_failed=pred[i] != y[i],
                    text=t,
                    label=model.labels[y[i]],
                    pred=model.labels[pred[i]],
                    conf=probs[i].max(),
                    set=name,
                )
                for i, t in enumerate(data.texts)
            ]
        return res


def _load_set(spec: TransferSet, model_labels: list[str], where: str) -> Any:
    from ...data import LabeledData, frame_to_data, load_dataset, read_frame
    from ...errors import DataError
    from ..spec import resolve_path

    path = resolve_path(spec.path)
    if spec.format == "attack":
        frame = read_frame(path, None, spec.encoding)
        if "perturbed_text" in frame.columns:
            raise DataError(
                f"{where}: {path} holds flat attack results (textrobust 0.1); write them again with "
                "'textrobust attack -o' (the record schema)"
            )
        for column in ("model_failed", "failed"):  # the model failed: the attack succeeded against it (0.2: "failed")
            if column in frame.columns:
                frame = frame[frame[column].astype(bool)]
                break
        if frame.empty:
            raise DataError(f"{where}: {path} holds no successful attacks")
        data = frame_to_data(
            frame,
            name=path,
            text_column=spec.text_column or "text",
            label_column=spec.label_column,
            label_names=spec.label_names,
        )
    else:
        data = load_dataset(
            path,
            text_column=spec.text_column or "text",
            label_column=spec.label_column,
            label_names=spec.label_names,
            encoding=spec.encoding,
            fmt=spec.format,
        )
    if spec.size:
        data = data.sample(spec.size, seed=spec.sample_seed)
    index = match_labels(data.label_names, model_labels, spec.label_map, where=where)
    return LabeledData(data.texts, [index[data.label_names[y]] for y in data.labels], model_labels, data.name)
