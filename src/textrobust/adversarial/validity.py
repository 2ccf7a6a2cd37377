"""Validity judges: does an adversarial example still carry its original gold label?

An attack's "success" counts every text that flips the victim, including texts whose true label flipped too
(AdvGLUE, Wang et al. 2021; Morris et al. 2020). A judge reads the original and the perturbed text, gives ``p``, its
probability that the perturbed text carries the gold label, and a verdict, ``kept``, ``rejected`` or ``abstained``,
by one of two rules:

* ``shift`` (the default): the edit changed the label when it moved the judge's log-odds of the gold label down by
  more than ``max_shift`` (0.5). A change detector: it needs no correct reading of the original, and catches flips
  in long sentences whose overall reading a one-word edit does not cross over (measured best, docs/validity.md);
* ``absolute``: kept when ``p >= threshold``; the judge abstains when it misreads the original (its probability of
  the gold label there is below ``threshold``: what it then says of the edit is no evidence).

Both give a keep score in [0, 1] (0.5 = the decision boundary); ``margin`` abstains within that distance of 0.5.

Judges (:data:`JUDGES`; each one class with its ``Params``):

* ``classifier`` — an independent classifier trained on *other* data (a model directory: ``textrobust train``
  output or a Hugging Face sequence classifier) with the task's label names;
* ``llm`` — a prompted local causal LM (SmolLM2 by default, via :mod:`textrobust.models.causal_lm`): the prompt's
  ``{text}`` placeholder takes the text, the answer is read from the next-token probabilities of one word per label
  (the verbaliser), contextually calibrated on content-free inputs (Zhao et al. 2021) unless ``calibrate: false``;
* ``ensemble`` — the mean probability of the members that did not abstain; abstains when all do.

Example:
    >>> spec = parse_judge({"kind": "llm", "prompt": "Review: {text}\\nSentiment?"})
    >>> spec.kind, spec.model
    ('llm', 'smollm2')
    >>> judge = build_judge("models/sst2-judge", ["neg", "pos"])  # doctest: +SKIP
    >>> judge.judge(["a good film"], ["a bad film"], [1]).verdicts  # doctest: +SKIP
    ['rejected']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from textrobust.errors import ConfigError
from textrobust.models.runtime import Runtime

VERDICTS = ("kept", "rejected", "abstained")


@dataclass
class Verdicts:
    """What a judge says of n adversarial examples: ``p`` (its probability of the gold label on the perturbed text),
    ``score`` (the keep score: kept at >= 0.5), ``abstain`` (bool) and the verdicts as words."""

    p: np.ndarray
    score: np.ndarray
    abstain: np.ndarray

    @property
    def kept(self) -> np.ndarray:
        return ~self.abstain & (self.score >= 0.5)

    @property
    def verdicts(self) -> list[str]:
        return ["abstained" if a else "kept" if k else "rejected" for a, k in zip(self.abstain, self.kept, strict=True)]

    def valid(self, on_abstain: str = "valid") -> np.ndarray:
        """Which examples count as valid: kept, plus the abstentions when ``on_abstain`` is ``valid``."""
        return self.kept | (self.abstain if on_abstain == "valid" else np.zeros_like(self.abstain))


# ------------------------------------------------------------------------------------------------------- specs
class _JudgeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rule: Literal["shift", "absolute"] = Field(
        "shift", description="shift (log-odds drop) or absolute (p >= threshold)"
    )
    max_shift: float = Field(0.5, gt=0, description="shift: largest drop of the gold label's log-odds that keeps it")
    threshold: float = Field(0.5, gt=0, lt=1, description="absolute: p >= threshold keeps the label")
    margin: float = Field(0.0, ge=0, lt=0.5, description="abstain when the keep score is within margin of 0.5")
    on_abstain: Literal["valid", "invalid"] = Field(
        "valid",
        description="how an abstention counts in valid-ASR: valid (the conservative default: the model gets no "
        "credit the judge could not confirm) or invalid",
    )


class ClassifierParams(_JudgeParams):
    kind: Literal["classifier"] = "classifier"
    path: str = Field(..., description="a classifier directory trained on other data, with the task's labels")


class LLMParams(_JudgeParams):
    kind: Literal["llm"] = "llm"
    model: str = Field("smollm2", description="causal LM: smollm2, a model directory or a .gguf file")
    prompt: str = Field(
        "Here is a movie review.\nReview: {text}\nIs the sentiment of this review {labels}? Answer with one word.",
        description="the user message; {text} takes the text, {labels} the verbaliser words ('a or b')",
    )
    verbalizer: dict[str, str] | None = Field(None, description="label -> answer word (default: from the names)")
    calibrate: bool = Field(True, description="contextual calibration on content-free inputs (Zhao et al. 2021)")
    chat: bool = Field(True, description="wrap the prompt in the model's chat template")

    @field_validator("prompt")
    @classmethod
    def _placeholder(cls, v: str) -> str:
        if "{text}" not in v:
            raise ValueError("the prompt has no {text} placeholder: put {text} where the text to judge goes")
        return v


class EnsembleParams(_JudgeParams):
    kind: Literal["ensemble"] = "ensemble"
    judges: list[Annotated[Union[ClassifierParams, LLMParams], Field(discriminator="kind")]] = Field(  # noqa: UP007
        ..., min_length=2, description="the member judges (classifier and llm)"
    )


JudgeParams = Annotated[Union[ClassifierParams, LLMParams, EnsembleParams], Field(discriminator="kind")]  # noqa: UP007
_ADAPTER: TypeAdapter[Any] = TypeAdapter(JudgeParams)


def parse_judge(raw: Any, where: str = "judge") -> Any:
    """A judge spec from YAML (a mapping with ``kind``), a CLI string or a list of them (an ensemble).

    CLI strings: a directory (a classifier judge), ``llm``, ``llm:MODEL`` or an inline YAML mapping
    (``{kind: classifier, path: DIR, rule: absolute}``).

    Example:
        >>> parse_judge("llm:smollm2").model
        'smollm2'
        >>> parse_judge(["models/judge", "llm"]).kind
        'ensemble'
    """
    if isinstance(raw, BaseModel):
        return raw
    if isinstance(raw, (list, tuple)):
        if len(raw) == 1:
            return parse_judge(raw[0], where)
        raw = {"kind": "ensemble", "judges": [_cli_judge(r) if isinstance(r, str) else r for r in raw]}
    elif isinstance(raw, str):
        raw = _cli_judge(raw)
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as e:
        err = e.errors()[0]
        path = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        raise ConfigError(f"{where}: {path}: {msg}" if path else f"{where}: {msg}") from None


def judge_field(value: Any) -> Any:
    """A spec's ``judge:`` field (None, or anything :func:`parse_judge` takes) as a judge spec; a ``ValueError`` for
    pydantic validators (``AttackParams.judge``, ``AdversarialSpec.judge``) to report with the field's path."""
    if value is None:
        return None
    try:
        return parse_judge(value)
    except ConfigError as e:
        raise ValueError(str(e)) from None


def _cli_judge(text: str) -> dict[str, Any]:
    if text.lstrip().startswith("{"):  # an inline YAML mapping: {kind: classifier, path: DIR, rule: absolute}
        import yaml

        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ConfigError(f"judge: {text!r} is not a YAML mapping") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"judge: {text!r} is not a YAML mapping")
        return raw
    head, _, rest = text.partition(":")
    if head == "llm":
        return {"kind": "llm", **({"model": rest} if rest else {})}
    if head == "classifier" and rest:
        return {"kind": "classifier", "path": rest}
    return {"kind": "classifier", "path": text}


# ------------------------------------------------------------------------------------------------------ judges
class Judge:
    """Base of the judges: ``probabilities(texts)`` in the task's label order; :meth:`judge` turns them into
    verdicts with the abstention rule of the module docstring."""

    kind: ClassVar[str]
    Params: ClassVar[type[_JudgeParams]]

    def __init__(self, params: Any, labels: Sequence[str], runtime: Runtime | None = None) -> None:
        self.params, self.labels, self.runtime = params, list(labels), runtime or Runtime()
        self._memo: dict[str, np.ndarray] = {}

    @property
    def name(self) -> str:
        return self.kind + self.rule_note

    @property
    def rule_note(self) -> str:
        p = self.params
        if p.rule == "absolute":
            return f" (absolute, threshold {p.threshold:g})"
        return "" if p.max_shift == 0.5 else f" (max_shift {p.max_shift:g})"

    def memo_probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`probabilities`, each distinct text computed once per judge (an ensemble and judge-check ask
        for the same originals again)."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if todo:
            self._memo.update(zip(todo, np.asarray(self.probabilities(todo), dtype=float), strict=True))
        if not texts:
            return np.zeros((0, len(self.labels)))
        return np.stack([self._memo[t] for t in texts])

    @classmethod
    def check(cls, params: Any, labels: Sequence[str]) -> None:
        """Everything that can fail before any model loads (files, labels, packages)."""

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def judge(self, originals: Sequence[str], perturbed: Sequence[str], labels: Sequence[int]) -> Verdicts:
        """Verdicts on ``perturbed`` texts made from ``originals`` whose gold labels are ``labels``."""
        y = np.asarray(labels, dtype=int)
        if not len(y):
            return Verdicts(np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool))
        probs = self.memo_probabilities(list(originals) + list(perturbed))
        rows = np.arange(len(y))
        p_orig, p = probs[: len(y)][rows, y], probs[len(y) :][rows, y]
        par = self.params
        if par.rule == "shift":
            score = _sigmoid(par.max_shift - (_logit(p_orig) - _logit(p)))
            abstain = np.zeros(len(y), dtype=bool)
        else:
            score = _sigmoid(_logit(p) - _logit(np.full(len(y), par.threshold)))
            abstain = p_orig < par.threshold
        abstain = abstain | (np.abs(score - 0.5) < par.margin)
        return Verdicts(p, score, abstain)


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def _label_names_of(path: str) -> list[str] | None:
    """A model directory's label names without loading weights (textrobust.json, else config.json's id2label)."""
    from textrobust.models.classifier import META_FILE

    for name in (META_FILE, "config.json"):
        f = Path(path).expanduser() / name
        if f.is_file():
            try:
                meta = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                return None
            if name == META_FILE and meta.get("labels"):
                return [str(x) for x in meta["labels"]]
            id2label = meta.get("id2label") or {}
            if id2label:
                return [str(id2label[k]) for k in sorted(id2label, key=lambda k: int(k))]
    return None


def align_labels(judge_labels: Sequence[str], task_labels: Sequence[str], who: str) -> list[int]:
    """Column of each task label in the judge's output: the same names (case aside), any order; else a one-line
    ConfigError saying what to do."""
    lower = {str(x).lower(): i for i, x in enumerate(judge_labels)}
    if len(judge_labels) != len(task_labels) or any(str(t).lower() not in lower for t in task_labels):
        raise ConfigError(
            f"{who}: its labels {list(judge_labels)} differ from the task's {list(task_labels)}; train the judge on "
            f"other data labelled {list(task_labels)} (textrobust train), or relabel that data"
        )
    return [lower[str(t).lower()] for t in task_labels]


class ClassifierJudge(Judge):
    """An independent classifier trained on other data; its probability of the gold label."""

    kind = "classifier"
    Params = ClassifierParams

    @property
    def name(self) -> str:
        return f"classifier:{Path(self.params.path).name}{self.rule_note}"

    @classmethod
    def check(cls, params: Any, labels: Sequence[str]) -> None:
        path = Path(params.path).expanduser()
        who = f"judge 'classifier' ({params.path})"
        if not path.is_dir():
            raise ConfigError(f"{who}: no such model directory; give a classifier trained on other data")
        names = _label_names_of(str(path))
        if names is None:
            raise ConfigError(f"{who}: not a classifier directory (no textrobust.json or config.json with labels)")
        align_labels(names, labels, who)

    def __init__(self, params: Any, labels: Sequence[str], runtime: Runtime | None = None) -> None:
        super().__init__(params, labels, runtime)
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            from textrobust.models.loading import load_model

            self._model = load_model(self.params.path, runtime=self.runtime)
            self._columns = align_labels(self._model.labels, self.labels, f"judge 'classifier' ({self.params.path})")
        return self._model

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        probs = np.asarray(self.model.predict_proba(list(texts)), dtype=float)
        return probs[:, self._columns]


#: Answer words for common abbreviated label names.
_WORDS = {"neg": "negative", "pos": "positive", "0": "negative", "1": "positive"}


class LLMJudge(Judge):
    """A prompted causal LM read through a verbaliser (one answer word per label), contextually calibrated."""

    kind = "llm"
    Params = LLMParams
    CONTENT_FREE = ("N/A", "", "[MASK]")

    @property
    def name(self) -> str:
        return f"llm:{Path(self.params.model).name}{self.rule_note}"

    @classmethod
    def check(cls, params: Any, labels: Sequence[str]) -> None:
        from textrobust.extras import SMOLLM2_ALIASES
        from textrobust.models.causal_lm import check_causal_lm

        words = cls.words(params, labels)
        if len({w.lower() for w in words}) != len(words):
            raise ConfigError(f"judge 'llm': the verbaliser gives two labels the same word {words}; give distinct ones")
        if params.model.lower() not in SMOLLM2_ALIASES and not Path(params.model).expanduser().exists():
            raise ConfigError(f"judge 'llm': causal LM {params.model} not found; give a model directory or smollm2")
        check_causal_lm(params.model, "judge 'llm'")
        try:
            params.prompt.format(text="", labels="")
        except (KeyError, IndexError, ValueError) as e:
            raise ConfigError(
                f"judge 'llm': the prompt has a placeholder other than {{text}} and {{labels}} ({e}); "
                "double literal braces: {{ }}"
            ) from None

    @staticmethod
    def words(params: Any, labels: Sequence[str]) -> list[str]:
        given = params.verbalizer or {}
        unknown = sorted(set(given) - {str(x) for x in labels})
        if unknown:
            raise ConfigError(f"judge 'llm': verbalizer names {unknown}, which are not task labels {list(labels)}")
        return [given.get(str(x), _WORDS.get(str(x).lower(), str(x))) for x in labels]

    def __init__(self, params: Any, labels: Sequence[str], runtime: Runtime | None = None) -> None:
        super().__init__(params, labels, runtime)
        self._lm: Any = None
        self._prior: np.ndarray | None = None

    def _load(self) -> tuple[Any, Any, list[list[int]]]:
        if self._lm is None:
            from textrobust.models.causal_lm import load_causal_lm

            self._lm = load_causal_lm(self.params.model, self.runtime, who="judge 'llm'")
            tok = self._lm[1]
            # An answer may start with the word, capitalised or not, with or without a leading space.
            ids = []
            for w in self.words(self.params, self.labels):
                variants = {w, w.capitalize(), " " + w, " " + w.capitalize()}
                ids.append(sorted({tok(v, add_special_tokens=False)["input_ids"][0] for v in variants}))
            flat = [i for group in ids for i in group]
            if len(flat) != len(set(flat)):
                raise ConfigError(
                    f"judge 'llm': the answer words {self.words(self.params, self.labels)} start with the same token "
                    "for this model; give a verbalizer with words that differ in their first token"
                )
            self._ids = ids
        return self._lm[0], self._lm[1], self._ids

    def _prompts(self, texts: Sequence[str]) -> list[str]:
        from textrobust.models.causal_lm import chat_prompt

        words = self.words(self.params, self.labels)
        choices = ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else words[0]
        users = [self.params.prompt.replace("{labels}", choices).replace("{text}", t) for t in texts]
        if not self.params.chat:
            return users
        tok = self._load()[1]
        return [chat_prompt(tok, u) for u in users]

    def _raw(self, texts: Sequence[str]) -> np.ndarray:
        from textrobust.models.causal_lm import next_token_logprobs

        lm, tok, ids = self._load()
        flat = [i for group in ids for i in group]
        logp = next_token_logprobs(lm, tok, self._prompts(texts), flat, runtime=self.runtime)
        mass = np.exp(logp)
        out, k = np.zeros((len(texts), len(ids))), 0
        for j, group in enumerate(ids):
            out[:, j] = mass[:, k : k + len(group)].sum(1)
            k += len(group)
        return out / np.clip(out.sum(1, keepdims=True), 1e-30, None)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        probs = self._raw(texts)
        if not self.params.calibrate:
            return probs
        if self._prior is None:
            self._prior = self._raw(list(self.CONTENT_FREE)).mean(0)
        cal = probs / np.clip(self._prior, 1e-12, None)
        return cal / cal.sum(1, keepdims=True)


class EnsembleJudge(Judge):
    """The mean keep score of the members that did not abstain (each by its own rule); abstains where every member
    does. The ensemble's own ``rule``, ``threshold`` and ``max_shift`` are unused; its ``margin`` applies."""

    kind = "ensemble"
    Params = EnsembleParams

    def __init__(
        self, params: Any, labels: Sequence[str], runtime: Runtime | None = None, members: Sequence[Judge] = ()
    ) -> None:
        super().__init__(params, labels, runtime)
        # ``members``: judges already built from ``params.judges`` (judge-check reuses them and their memo).
        self.members = list(members) or [JUDGES[p.kind](p, labels, runtime) for p in params.judges]

    @property
    def name(self) -> str:
        return "ensemble(" + ", ".join(m.name for m in self.members) + ")"

    @classmethod
    def check(cls, params: Any, labels: Sequence[str]) -> None:
        for p in params.judges:
            JUDGES[p.kind].check(p, labels)

    def judge(self, originals: Sequence[str], perturbed: Sequence[str], labels: Sequence[int]) -> Verdicts:
        votes = [m.judge(originals, perturbed, labels) for m in self.members]
        speaks = ~np.stack([v.abstain for v in votes])
        n = np.maximum(speaks.sum(0), 1)
        score = np.where(speaks.any(0), (np.stack([v.score for v in votes]) * speaks).sum(0) / n, 0.5)
        p = np.where(speaks.any(0), (np.stack([v.p for v in votes]) * speaks).sum(0) / n, np.nan)
        abstain = ~speaks.any(0) | (np.abs(score - 0.5) < self.params.margin)
        return Verdicts(p, score, np.asarray(abstain, dtype=bool))


JUDGES: dict[str, type[Judge]] = {j.kind: j for j in (ClassifierJudge, LLMJudge, EnsembleJudge)}


def check_judge(raw: Any, labels: Sequence[str], where: str = "judge") -> Any:
    """Parse and check a judge spec against the task's labels before any model loads; returns the spec."""
    spec = parse_judge(raw, where)
    JUDGES[spec.kind].check(spec, labels)
    return spec


def build_judge(raw: Any, labels: Sequence[str], runtime: Runtime | None = None) -> Judge:
    """A judge from a spec (see :func:`parse_judge`), checked, for a task with these label names.

    Example:
        >>> judge = build_judge({"kind": "classifier", "path": "models/sst2"}, ["neg", "pos"])  # doctest: +SKIP
    """
    spec = check_judge(raw, labels)
    return JUDGES[spec.kind](spec, labels, runtime)


__all__ = [
    "JUDGES",
    "VERDICTS",
    "ClassifierJudge",
    "EnsembleJudge",
    "Judge",
    "JudgeParams",
    "LLMJudge",
    "Verdicts",
    "align_labels",
    "build_judge",
    "check_judge",
    "parse_judge",
]
