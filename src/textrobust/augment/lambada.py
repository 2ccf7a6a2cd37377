"""Synthetic labelled examples from a causal LM: LAMBADA fine-tuning and few-shot prompting.

Implements the "generate new examples per label" half of the ``generate`` issue, at the dataset level (the
``generate`` operator in :mod:`~textrobust.augment.model_gen` only rewrites single inputs):

* :func:`finetune_causal_lm` + :func:`lambada_generate`: LAMBADA, Anaby-Tavor et al. 2020, "Do Not Have Enough
  Data? Deep Learning to the Rescue!" (AAAI). Fine-tune a causal LM on ``label + separator + text + EOS`` lines of
  the training set, sample new texts by prompting with ``label + separator``, then keep the candidates a classifier
  assigns to the intended label with the highest confidence.
* :func:`fewshot_generate`: few-shot prompting of an (instruction) LM with ``k`` examples of each label.

Both return the generated rows as :class:`~textrobust.data.LabeledData` with the input's ``label_names``, after
the optional augmentation filters (``dedup``, ``length``, ``label_preserving``, ``similarity``) and, for LAMBADA,
the classifier selection.

Deviations from the paper:

* The paper fine-tunes GPT-2 on the whole training set and then generates ~10x the wanted number of candidates per
  class; here the candidate pool is ``ceil(oversample * n_per_label)`` (default 2x).
* The paper's classifier is a model trained on the original data; here it is any object with
  ``predict_proba(texts) -> [n, num_labels]`` (e.g. a fitted :class:`~textrobust.models.TextClassifier`), and the
  confidence threshold ``min_confidence`` is optional (without it the top ``n_per_label`` candidates are kept).
* Sampling is top-k / nucleus sampling with one random stream per candidate (Gumbel-max), so results do not depend
  on batch size; the paper does not specify the decoding.
* The paper uses the GPT-2 ``SEP`` convention with ``EOS`` only; no BOS token is added here either, and candidates
  are additionally cut at a newline or a repeated separator, and exact (case/whitespace-insensitive) copies of a
  training text or of an earlier candidate are dropped.
* Augmentation filters see one group per label whose "original" is the label name, so ``similarity`` compares a
  candidate with its label name and ``dedup`` works within a label (use ``classifier=`` for label fidelity).

Example:
    >>> from textrobust.augment import lambada_generate  # doctest: +SKIP
    >>> new = lambada_generate(train, model="gpt2", n_per_label=100, classifier=clf, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from textrobust.augment.base import _key
from textrobust.errors import ConfigError, ModelError
from textrobust.models.causal_lm import (
    chat_prompt,
    check_sampling,
    eos_id,
    load_causal_lm,
    prepare_tokenizer,
    sample_continuations,
)
from textrobust.models.runtime import Runtime

if TYPE_CHECKING:  # pragma: no cover
    from textrobust.data import LabeledData

DEFAULT_SEPARATOR = " [SEP] "
DEFAULT_FEWSHOT_TEMPLATE = 'Here are some texts with the label "{label}", one per line.\n{examples}\n- '
#: The few-shot request sent through a chat template (instruction models): the reply is the new text.
DEFAULT_FEWSHOT_CHAT_TEMPLATE = (
    'Here are some texts with the label "{label}", one per line:\n{examples}\n'
    'Write one new, different text with the label "{label}" in the same style. '
    "Reply with the text only."
)
DEFAULT_EXAMPLE_FORMAT = "- {text}"


# ----------------------------------------------------------------------------------------------------- checks
def _check(fn: str, name: str, ok: bool, valid: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{fn}: invalid {name}={value!r}; valid: {valid}")


def _check_int(fn: str, name: str, value: Any, low: int = 1) -> None:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and bool(value >= low)
    _check(fn, name, ok, f"an integer >= {low}", value)


def _check_sampling(
    fn: str, max_new_tokens: int, top_k: int, top_p: float, temperature: float, batch_size: int, oversample: float
) -> None:
    check_sampling(
        fn, max_new_tokens=max_new_tokens, top_k=top_k, top_p=top_p, temperature=temperature, batch_size=batch_size
    )
    _check(fn, "oversample", isinstance(oversample, (int, float)) and oversample >= 1, "a float >= 1", oversample)


def _label_indexes(fn: str, labels: Sequence[Any], label_names: Sequence[str]) -> list[int]:
    from textrobust.data.labels import label_index

    return [label_index(y, label_names, where=fn) for y in labels]


# ----------------------------------------------------------------------------------------------------- loading
def _load(model: Any, runtime: Runtime, fn: str, fresh: bool) -> tuple[Any, Any]:
    """(model, tokenizer) from a name/path (see :func:`~textrobust.models.causal_lm.load_causal_lm`; ``fresh``: a
    private copy, since fine-tuning changes the weights) or a ``(model, tokenizer)`` pair."""
    if isinstance(model, tuple):
        if len(model) != 2 or not hasattr(model[0], "generate"):
            raise ConfigError(f"{fn}: model must be a name/path or a (causal LM, tokenizer) pair")
        lm, tok = model
        return lm, prepare_tokenizer(tok, fn)
    if not isinstance(model, (str, os.PathLike)) or not str(model):
        raise ConfigError(
            f"{fn}: invalid model={model!r}; valid: a causal LM name/path (e.g. smollm2) or (model, tokenizer)"
        )
    return load_causal_lm(model, runtime, who=fn, fresh=fresh)


def _sampling_runtime(lm: Any, runtime: Runtime | None) -> Runtime:
    """The runtime sampling runs under: the given one's precision on the device the model is on (a caller's
    ``(model, tokenizer)`` pair may live elsewhere)."""
    return (runtime or Runtime()).replace(device=str(next(lm.parameters()).device))


# ----------------------------------------------------------------------------------------------------- training
def format_lines(
    texts: Sequence[str], labels: Sequence[Any], label_names: Sequence[str], *, separator: str = DEFAULT_SEPARATOR
) -> list[str]:
    """The LAMBADA training lines ``"{label_name}{separator}{text}"`` (EOS is appended at tokenisation).

    Example:
        >>> format_lines(["a fine film"], [1], ["neg", "pos"])
        ['pos [SEP] a fine film']
    """
    if len(texts) != len(labels):
        raise ConfigError(f"format_lines: {len(texts)} texts but {len(labels)} labels")
    idx = _label_indexes("format_lines", labels, label_names)
    return [f"{label_names[y]}{separator}{' '.join(str(t).split())}" for t, y in zip(texts, idx, strict=True)]


def _encode(tok: Any, lines: Sequence[str], max_length: int, eos: bool) -> list[list[int]]:
    end = eos_id(tok)
    suffix = [end] if eos and end is not None else []
    text_suffix = "\n" if eos and end is None else ""
    enc = tok(
        [line + text_suffix for line in lines],
        add_special_tokens=False,
        truncation=True,
        max_length=max(1, max_length - len(suffix)),
    )["input_ids"]
    return [list(ids) + suffix for ids in enc]


def _pad_right(seqs: Sequence[Sequence[int]], pad_id: int, device: Any) -> tuple[Any, Any]:
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
        mask[r, : len(s)] = 1
    return ids.to(device), mask.to(device)


def lm_loss(
    model: Any,
    tokenizer: Any,
    lines: Sequence[str],
    *,
    max_length: int = 64,
    eos: bool = True,
    batch_size: int = 32,
    runtime: Runtime | None = None,
) -> float:
    """Mean per-token negative log-likelihood of ``lines`` (as :func:`finetune_causal_lm` tokenises them), under
    ``runtime``'s autocast (default: that of the device the model is on)."""
    import torch

    if not lines:
        raise ConfigError("lm_loss: no lines")
    device = next(model.parameters()).device
    runtime = runtime or Runtime(device=str(device))
    seqs = _encode(tokenizer, lines, max_length, eos)
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(seqs), batch_size):
            ids, mask = _pad_right(seqs[s : s + batch_size], tokenizer.pad_token_id, device)
            with runtime.autocast():
                logits = model(input_ids=ids, attention_mask=mask).logits
            target = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
            nll = torch.nn.functional.cross_entropy(
                logits[:, :-1].float().transpose(1, 2), target, ignore_index=-100, reduction="sum"
            )
            total += float(nll)
            count += int((target != -100).sum())
    model.train(was_training)
    return total / max(count, 1)


def finetune_causal_lm(
    texts: Sequence[str],
    labels: Sequence[Any],
    label_names: Sequence[str],
    model: str | os.PathLike[str] | tuple[Any, Any] = "gpt2",
    *,
    epochs: int = 3,
    lr: float = 5e-5,
    batch_size: int = 16,
    max_length: int = 64,
    seed: int = 0,
    runtime: Runtime | None = None,
    separator: str = DEFAULT_SEPARATOR,
    eos: bool = True,
    weight_decay: float = 0.0,
    max_grad_norm: float = 1.0,
    progress: bool = True,
) -> tuple[Any, Any]:
    """Fine-tune a causal LM on ``"{label_name}{separator}{text}{EOS}"`` lines (LAMBADA, Anaby-Tavor et al. 2020).

    ``labels`` are indexes into ``label_names`` or names. ``model`` is any ``AutoModelForCausalLM`` name/path or
    a ``(model, tokenizer)`` pair (trained in place). Training: length-grouped batches with dynamic padding,
    loss on every real token (label, separator, text and EOS), AdamW with linear decay to zero, gradient
    clipping, autocast on CUDA as ``runtime`` says (fp32 master weights), seeded data order and dropout. Returns
    ``(model, tokenizer)`` in eval mode.

    Deviations from the paper: no warm-up and a fixed number of epochs (no early stopping); lines longer than
    ``max_length`` tokens are truncated (and then have no EOS).
    """
    import torch

    from textrobust.models.finetune import adamw, backward_step, length_grouped_batches, torch_seed
    from textrobust.progress import note, steps

    fn = "finetune_causal_lm"
    _check_int(fn, "epochs", epochs)
    _check_int(fn, "batch_size", batch_size)
    _check_int(fn, "max_length", max_length, low=2)
    _check(fn, "lr", isinstance(lr, (int, float)) and lr > 0, "a float > 0", lr)
    _check(fn, "separator", isinstance(separator, str) and bool(separator.strip()), "a non-blank string", separator)
    if len(texts) == 0:
        raise ConfigError(f"{fn}: no training texts")
    lines = format_lines(texts, labels, label_names, separator=separator)
    runtime = runtime or Runtime()
    lm, tok = _load(model, runtime, fn, fresh=True)
    device_t = next(lm.parameters()).device
    if next(lm.parameters()).dtype != torch.float32:
        lm = lm.float()  # fp32 master weights (a caller's pair may be half precision); autocast does the rest
    if isinstance(model, tuple):  # a caller's pair: its own device decides, in the runtime's precision
        runtime = runtime.replace(device=str(device_t))

    rng = np.random.default_rng(seed)
    seqs = _encode(tok, lines, max_length, eos)
    optimizer = adamw(lm, lr, weight_decay, str(device_t))
    scaler = runtime.grad_scaler()
    steps_per_epoch = math.ceil(len(seqs) / batch_size)
    total = epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / total))
    lengths = np.array([len(s) for s in seqs])
    # Dropout draws from torch's global generator: seed it for this call only (the caller's state is kept).
    with torch_seed(seed, str(device_t)):
        lm.train()
        for epoch in range(epochs):
            batches = length_grouped_batches(lengths, batch_size, rng)
            bar = steps(batches, desc=f"lambada epoch {epoch + 1}/{epochs}", enabled=progress, unit="batch")
            for idx in bar:
                ids, mask = _pad_right([seqs[i] for i in idx], tok.pad_token_id, device_t)
                target = ids.masked_fill(mask == 0, -100)  # pad may equal EOS: mask by attention, not by id
                with runtime.autocast(training=True):
                    logits = lm(input_ids=ids, attention_mask=mask).logits
                loss = torch.nn.functional.cross_entropy(
                    logits[:, :-1].float().transpose(1, 2), target[:, 1:], ignore_index=-100
                )
                backward_step(loss, lm, optimizer, scaler, max_grad_norm)
                scheduler.step()
            bar.close()
            note(f"lambada epoch {epoch + 1}/{epochs} done", enabled=progress)
    lm.eval()
    return lm, tok


def _save_lm(lm: Any, tok: Any, directory: str | os.PathLike[str], fn: str) -> None:
    """Write ``lm`` and ``tok`` to ``directory`` atomically (a crash leaves the old directory or none)."""
    from textrobust.data import atomic_path

    try:
        with atomic_path(directory, directory=True) as tmp:
            lm.save_pretrained(tmp)
            tok.save_pretrained(tmp)
    except OSError as exc:
        raise ModelError(f"{fn}: cannot save the fine-tuned LM to {directory}: {exc}".splitlines()[0]) from None


# ----------------------------------------------------------------------------------------------------- sampling
def _candidate_seed(seed: int, label: int, i: int, stream: int) -> int:
    return int(np.random.SeedSequence([seed, label, i, stream]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def _select(
    fn: str,
    texts: list[str],
    pool: int,
    data: LabeledData,
    n_per_label: int,
    filters: Sequence[Any],
    classifier: Any,
    min_confidence: float | None,
    name: str,
) -> LabeledData:
    """From ``pool`` sampled ``texts`` per label (in label order): drop empties and copies (of each other and of
    ``data``'s texts), run the filters, rank by classifier confidence, keep ``n_per_label`` per label."""
    from textrobust.data import LabeledData

    label_names = data.label_names
    candidates = [texts[y * pool : (y + 1) * pool] for y in range(data.num_labels)]
    banned = {_key(t) for t in data.texts}
    groups: list[list[str]] = []
    for cands in candidates:
        seen, kept = set(banned), []
        for c in cands:
            if c and _key(c) not in seen:
                seen.add(_key(c))
                kept.append(c)
        groups.append(kept)
    labels = list(range(len(label_names)))
    for f in filters:
        groups, _ = f([str(x) for x in label_names], groups, labels)
    if classifier is not None:
        flat = [c for g in groups for c in g]
        probs = np.asarray(classifier.predict_proba(flat)) if flat else np.zeros((0, len(label_names)))
        if probs.ndim != 2 or probs.shape != (len(flat), len(label_names)):
            raise ConfigError(
                f"{fn}: classifier.predict_proba returned shape {probs.shape}; "
                f"expected ({len(flat)}, {len(label_names)})"
            )
        probs = probs[:, _classifier_columns(fn, classifier, label_names)]  # column y = data label y
        k, ranked = 0, []
        for y, g in enumerate(groups):
            block = probs[k : k + len(g)]
            k += len(g)
            ok = [
                j
                for j in range(len(g))
                if int(np.argmax(block[j])) == y and (min_confidence is None or block[j, y] >= min_confidence)
            ]
            top = sorted(ok, key=lambda j: (-block[j, y], j))[:n_per_label]
            ranked.append([g[j] for j in sorted(top)])  # the most confident, in generation order
        groups = ranked
    texts, ys = [], []
    for y, g in enumerate(groups):
        texts += g[:n_per_label]
        ys += [y] * len(g[:n_per_label])
    return LabeledData(texts, ys, [str(x) for x in label_names], name)


def _classifier_columns(fn: str, classifier: Any, label_names: Sequence[str]) -> list[int]:
    """Column of each data label in ``predict_proba`` output (by name when the classifier has ``labels``)."""
    names = [str(x) for x in label_names]
    clf_names = getattr(classifier, "labels", None)
    if clf_names is None:
        return list(range(len(names)))
    clf_names = [str(x) for x in clf_names]
    if sorted(clf_names) != sorted(names):
        raise ConfigError(f"{fn}: classifier labels {clf_names} differ from the data's label names {names}")
    return [clf_names.index(x) for x in names]


def _common_checks(
    fn: str, data: Any, n_per_label: int, classifier: Any, min_confidence: float | None, filters: Sequence[Any]
) -> None:
    from textrobust.data import LabeledData

    if not isinstance(data, LabeledData):
        raise ConfigError(f"{fn}: data must be a LabeledData, got {type(data).__name__}")
    _check_int(fn, "n_per_label", n_per_label)
    if classifier is not None and not hasattr(classifier, "predict_proba"):
        raise ConfigError(f"{fn}: classifier must have predict_proba(texts) -> array[n, num_labels]")
    if min_confidence is not None:
        _check(
            fn,
            "min_confidence",
            isinstance(min_confidence, (int, float)) and 0 <= min_confidence <= 1,
            "a float in [0, 1] or None",
            min_confidence,
        )
        if classifier is None:
            raise ConfigError(f"{fn}: min_confidence needs a classifier; pass classifier=")
    for f in filters:
        if not callable(f):
            raise ConfigError(f"{fn}: filters must be callables like textrobust.augment.Length(), got {f!r}")


def lambada_generate(
    data: LabeledData,
    *,
    model: str | os.PathLike[str] | tuple[Any, Any],
    n_per_label: int,
    finetune: bool = True,
    separator: str = DEFAULT_SEPARATOR,
    epochs: int = 3,
    lr: float = 5e-5,
    train_batch_size: int = 16,
    max_length: int = 64,
    max_new_tokens: int = 48,
    top_k: int = 50,
    top_p: float = 0.95,
    temperature: float = 1.0,
    oversample: float = 2.0,
    batch_size: int = 32,
    seed: int = 0,
    runtime: Runtime | None = None,
    filters: Sequence[Any] = (),
    classifier: Any = None,
    min_confidence: float | None = None,
    progress: bool = False,
    save_lm: str | os.PathLike[str] | None = None,
) -> LabeledData:
    """LAMBADA (Anaby-Tavor et al. 2020): fine-tune a causal LM on ``label [SEP] text`` lines of ``data``, sample
    new texts per label, filter and select.

    ``model``: a causal LM name/path or ``(model, tokenizer)``; with ``finetune=False`` it must already be
    fine-tuned on lines in the same format (e.g. the pair returned by :func:`finetune_causal_lm`, or a directory
    it was saved to). For each label, ``ceil(oversample * n_per_label)`` candidates are sampled from the prompt
    ``"{label}{separator}"`` (top-k / top-p, ``max_new_tokens``, one seeded stream per candidate: same ``seed`` ->
    same output), cut at EOS / newline / a repeated separator; empties and case/whitespace-insensitive copies of a
    training text or an earlier candidate are dropped; ``filters`` run next (see the module notes); with a
    ``classifier`` only candidates it assigns to the intended label (argmax, and probability >= ``min_confidence``
    when given) are kept, the ``n_per_label`` most confident per label. At most ``n_per_label`` rows per label
    come back (fewer when candidates are filtered out), with ``data.label_names``. ``save_lm``: a directory to
    write the fine-tuned LM and tokenizer to (atomically, before sampling); pass it back as ``model`` with
    ``finetune=False`` to sample again without fine-tuning.

    Deviations from the paper: see the module docstring (pool size, optional threshold, decoding, cuts).
    """
    fn = "lambada_generate"
    _common_checks(fn, data, n_per_label, classifier, min_confidence, filters)
    _check_sampling(fn, max_new_tokens, top_k, top_p, temperature, batch_size, oversample)
    _check(fn, "separator", isinstance(separator, str) and bool(separator.strip()), "a non-blank string", separator)
    if save_lm is not None and not finetune:
        raise ConfigError(f"{fn}: save_lm saves the fine-tuned LM; it needs finetune=True")
    if finetune:
        if len(data) == 0:
            raise ConfigError(f"{fn}: no training rows to fine-tune on; pass data with rows or finetune=False")
        lm, tok = finetune_causal_lm(
            data.texts,
            data.labels,
            data.label_names,
            model,
            epochs=epochs,
            lr=lr,
            batch_size=train_batch_size,
            max_length=max_length,
            seed=seed,
            runtime=runtime,
            separator=separator,
            progress=progress,
        )
        if save_lm is not None:
            _save_lm(lm, tok, save_lm, fn)
    else:
        lm, tok = _load(model, runtime or Runtime(), fn, fresh=False)
    pool = math.ceil(oversample * n_per_label)
    prompts, seeds = [], []
    for y, name in enumerate(data.label_names):
        for i in range(pool):
            # Trailing spaces are cut: BPE tokenizers fold them into the next word's token.
            prompts.append(f"{name}{separator}".rstrip(" "))
            seeds.append(_candidate_seed(seed, y, i, 0))
    texts = sample_continuations(
        lm,
        tok,
        prompts,
        seeds,
        max_new_tokens=max_new_tokens,
        top_k=top_k,
        top_p=top_p,
        temperature=temperature,
        batch_size=batch_size,
        stops=(separator.strip(),),
        runtime=_sampling_runtime(lm, runtime),
    )
    return _select(fn, texts, pool, data, n_per_label, filters, classifier, min_confidence, f"{data.name}-lambada")


def fewshot_generate(
    data: LabeledData,
    *,
    model: str | os.PathLike[str] | tuple[Any, Any],
    n_per_label: int,
    k_shots: int = 4,
    template: str | None = None,
    example_format: str = DEFAULT_EXAMPLE_FORMAT,
    chat: bool | None = None,
    max_new_tokens: int = 48,
    top_k: int = 50,
    top_p: float = 0.95,
    temperature: float = 1.0,
    oversample: float = 1.5,
    batch_size: int = 16,
    seed: int = 0,
    runtime: Runtime | None = None,
    filters: Sequence[Any] = (),
    classifier: Any = None,
    min_confidence: float | None = None,
) -> LabeledData:
    """Few-shot prompting: for each candidate, ``k_shots`` random examples of a label (drawn per candidate, seeded)
    are formatted with ``example_format`` (``{text}``), joined by newlines into ``template`` (``{label}``,
    ``{examples}``), and the first line of the sampled continuation is the new text for that label.

    ``model`` is a causal LM name/path (loaded once and cached, like the ``generate`` operator) or a
    ``(model, tokenizer)`` pair. ``chat``: wrap the prompt in the tokenizer's chat template as the user's message
    (``None``, the default: when the tokenizer has one, as instruction models like SmolLM2 do); ``template``
    defaults to :data:`DEFAULT_FEWSHOT_CHAT_TEMPLATE` with a chat template, else :data:`DEFAULT_FEWSHOT_TEMPLATE`
    (a list the model continues). Labels without examples get a zero-shot prompt. Prompts longer than the model's
    context minus ``max_new_tokens`` are cut from the left. Post-processing (dedup against ``data``, ``filters``,
    ``classifier``, ``min_confidence``, at most ``n_per_label`` per label) is as in :func:`lambada_generate`.

    This is the prompting variant of the issue, not part of Anaby-Tavor et al. 2020 (which fine-tunes).
    """
    fn = "fewshot_generate"
    _common_checks(fn, data, n_per_label, classifier, min_confidence, filters)
    _check_sampling(fn, max_new_tokens, top_k, top_p, temperature, batch_size, oversample)
    _check_int(fn, "k_shots", k_shots, low=0)
    _check(
        fn,
        "template",
        template is None or (isinstance(template, str) and "{label}" in template and "{examples}" in template),
        "a string containing {label} and {examples}",
        template,
    )
    _check(
        fn,
        "example_format",
        isinstance(example_format, str) and "{text}" in example_format,
        "a string containing {text}",
        example_format,
    )
    lm, tok = _load(model, runtime or Runtime(), fn, fresh=False)
    has_template = bool(getattr(tok, "chat_template", None))
    if chat and not has_template:
        raise ConfigError(f"{fn}: chat=True but the tokenizer has no chat template; use chat=False")
    chat = has_template if chat is None else chat
    if template is None:
        template = DEFAULT_FEWSHOT_CHAT_TEMPLATE if chat else DEFAULT_FEWSHOT_TEMPLATE
    by_label: list[list[str]] = [[] for _ in data.label_names]
    for t, y in zip(data.texts, data.labels, strict=True):
        by_label[y].append(" ".join(t.split()))
    pool = math.ceil(oversample * n_per_label)
    prompts, seeds = [], []
    for y, name in enumerate(data.label_names):
        pos = by_label[y]
        for i in range(pool):
            rng = np.random.default_rng(np.random.SeedSequence([seed, y, i, 1]))
            picks = rng.choice(len(pos), size=min(k_shots, len(pos)), replace=False) if pos else np.zeros(0, int)
            shots = [pos[j] for j in picks]
            examples = "\n".join(example_format.replace("{text}", s) for s in shots)
            prompt = template.replace("{label}", str(name)).replace("{examples}", examples)
            prompts.append(chat_prompt(tok, prompt) if chat else prompt.rstrip(" "))
            seeds.append(_candidate_seed(seed, y, i, 0))
    prefix = example_format.split("{text}")[0].strip()
    texts = sample_continuations(
        lm,
        tok,
        prompts,
        seeds,
        max_new_tokens=max_new_tokens,
        top_k=top_k,
        top_p=top_p,
        temperature=temperature,
        batch_size=batch_size,
        runtime=_sampling_runtime(lm, runtime),
    )
    if prefix:
        texts = [t[len(prefix) :].strip() if t.startswith(prefix) else t for t in texts]
    return _select(fn, texts, pool, data, n_per_label, filters, classifier, min_confidence, f"{data.name}-fewshot")


__all__ = ["fewshot_generate", "finetune_causal_lm", "format_lines", "lambada_generate", "lm_loss"]
