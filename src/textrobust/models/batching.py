"""Token-budget batching: how many rows go into one forward pass, decided by rows x padded width.

A fixed row count is a poor unit for inference on inputs of mixed length: 64 one-line queries and 64
paragraph-long ones differ twenty-fold in work and memory. :func:`plan_batches` sorts the inputs by length
(longest first, so every batch pads only to its own first row) and fills each batch while
``rows x padded width`` stays within a token budget. The budget depends on the device
(:func:`default_token_budget`); an explicit ``batch_size`` still gives fixed row counts, for users who set one.

Every batched forward pass in the library plans its batches here: :meth:`TextClassifier.predict_proba
<textrobust.models.TextClassifier.predict_proba>` (evaluation, attacks, label-preserving filters, adversarial
training) and the sentence encoders (attack similarity constraints, the augmentation similarity filter).

Example:
    >>> plan_batches([3, 30, 5, 29], max_tokens=64)
    [[1, 3], [2, 0]]
    >>> plan_batches([3, 30, 5, 29], batch_size=3)
    [[1, 3, 2], [0]]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .runtime import Runtime

from ..errors import ConfigError

T = TypeVar("T")

# Tokens (rows x padded width) per forward pass when nobody chose a batch size; benchmarks/inference_bench.py
# measures them (benchmarks/RESULTS.md, "Token budget"). CPU: on attack-shaped MiniLM queries 4,096 tokens ran
# 1.34x the old 32 rows and 1.11x the old 64 (the classifier) and 1.04x the old 128 rows (the encoder), while
# 1,024 tokens lost to all of them: enough rows per GEMM to keep both cores busy, few enough that length-sorted
# batches stay tight. CUDA: 32,768 tokens = 256 rows at width 128, the row count the GPU benchmarks used at that
# length (so no more memory than runs already made there) while short texts get more rows per launch;
# benchmarks/gpu_all.sh sweeps 8k-128k so a GPU session can confirm or move it.
CPU_TOKEN_BUDGET = 4096
CUDA_TOKEN_BUDGET = 32768
# Sentence encoders on CUDA: the H200 sweep of issue 22 (MiniLM, bf16, MR-length texts) ran fastest at 131,072
# tokens per batch, 14.1k texts/s against 12.2k at 32,768. An encoder keeps only one pooled vector per row, so a
# larger batch costs activations only (~0.5 GiB for MiniLM in bf16), not vocabulary-sized logits as a masked LM would.
CUDA_ENCODER_TOKEN_BUDGET = 131072
TOKEN_BUDGET_ENV = "TEXTROBUST_TOKEN_BUDGET"
#: What a forward pass computes, for :func:`default_token_budget`: classifier logits (also masked and causal LMs)
#: or pooled sentence vectors.
BUDGET_ROLES = ("classifier", "encoder")


def default_token_budget(device: str, role: str = "classifier") -> int:
    """The token budget for ``device`` and ``role`` (``$TEXTROBUST_TOKEN_BUDGET`` overrides it for every device
    and role). Only on CUDA do the roles differ: a sentence encoder gets :data:`CUDA_ENCODER_TOKEN_BUDGET`.

    Example:
        >>> default_token_budget("cpu") == default_token_budget("cpu", "encoder") > 0
        True
        >>> default_token_budget("cuda", "encoder") > default_token_budget("cuda")
        True
    """
    if role not in BUDGET_ROLES:
        raise ConfigError(f"token budget role {role!r}: use one of {', '.join(BUDGET_ROLES)}")
    env = os.environ.get(TOKEN_BUDGET_ENV)
    if env:
        try:
            value = int(env)
        except ValueError:
            value = 0
        if value < 1:
            raise ConfigError(f"{TOKEN_BUDGET_ENV}={env!r}: expected a positive integer (tokens per forward pass)")
        return value
    if not str(device).startswith("cuda"):
        return CPU_TOKEN_BUDGET
    return CUDA_ENCODER_TOKEN_BUDGET if role == "encoder" else CUDA_TOKEN_BUDGET


def padded_width(longest: int, multiple: int = 8, limit: int | None = None) -> int:
    """Width a batch is padded to: its longest row rounded up to ``multiple`` (fewer distinct shapes for GPU
    kernels), but never past ``limit`` unless the row itself is longer.

    Example:
        >>> padded_width(13), padded_width(13, limit=14), padded_width(13, multiple=1)
        (16, 14, 13)
    """
    width = -(-longest // multiple) * multiple if multiple > 1 else longest
    return min(width, max(longest, limit)) if limit is not None else width


def full_rows(
    longest: int, *, max_tokens: int | None, batch_size: int | None = None, multiple: int = 8, limit: int | None = None
) -> int:
    """Rows of a full batch whose first (longest) row has ``longest`` tokens: ``batch_size`` when one was asked
    for, else as many as :func:`plan_batches` puts in one ``max_tokens`` budget at that width.

    Example:
        >>> full_rows(30, max_tokens=4096), full_rows(30, max_tokens=4096, batch_size=64)
        (128, 64)
    """
    if batch_size is not None:
        return batch_size
    if max_tokens is None:
        raise ConfigError("full_rows needs max_tokens or batch_size")
    return max(1, max_tokens // max(1, padded_width(longest, multiple, limit)))


def bucket_rows(rows: int, full: int) -> int:
    """The row count a batch of ``rows`` is padded to under bucketed shapes (:attr:`Runtime.bucketed_shapes
    <textrobust.models.runtime.Runtime.bucketed_shapes>`): the next power of two, but never past ``full`` (the
    rows of a full batch at that width, a shape every large call has anyway), so a full batch gains nothing.

    Example:
        >>> bucket_rows(5, 128), bucket_rows(129, 682), bucket_rows(600, 682), bucket_rows(682, 682)
        (8, 256, 682, 682)
    """
    return max(rows, min(1 << max(0, rows - 1).bit_length(), full))


def bucket_batch(items: list[T], full: int) -> list[T]:
    """``items`` filled up to :func:`bucket_rows` rows with copies of the first (the longest, in a planned batch, so
    the width stays); the caller keeps the first ``len(items)`` outputs.

    Example:
        >>> bucket_batch(["ab", "a", "b"], 64)
        ['ab', 'a', 'b', 'ab']
    """
    return items + [items[0]] * (bucket_rows(len(items), full) - len(items))


def pad_batch(
    seqs: Sequence[Sequence[int]],
    pad_id: int,
    runtime: Runtime,
    *,
    multiple: int = 8,
    limit: int | None = None,
    max_tokens: int | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """``input_ids`` and ``attention_mask`` of one batch, padded to :func:`padded_width` of its longest row, on the
    runtime's device (pinned and non-blocking on CUDA: the host pads the next batch while this one runs).

    Given the plan's ``max_tokens`` or ``batch_size`` (inference) and the runtime's bucketed shapes, the batch also
    gets :func:`bucket_rows` rows of a :func:`full_rows` batch (:func:`bucket_batch`): the caller keeps the first
    ``len(seqs)`` outputs.

    Example:
        >>> from textrobust.models.runtime import Runtime
        >>> pad_batch([[5, 6, 7], [5]], 0, Runtime(device="cpu"), multiple=4)["attention_mask"].tolist()
        [[1, 1, 1, 0], [1, 0, 0, 0]]
    """
    import numpy as np
    import torch

    if runtime.bucketed_shapes and (max_tokens or batch_size):
        longest = max(len(s) for s in seqs)
        full = full_rows(longest, max_tokens=max_tokens, batch_size=batch_size, multiple=multiple, limit=limit)
        seqs = bucket_batch(list(seqs), full)
    width = padded_width(max(len(s) for s in seqs), multiple, limit)
    input_ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for r, s in enumerate(seqs):
        input_ids[r, : len(s)] = s
        mask[r, : len(s)] = 1
    tensors = [torch.from_numpy(a) for a in (input_ids, mask)]
    if runtime.on_cuda:
        tensors = [t.pin_memory().to(runtime.resolved_device, non_blocking=True) for t in tensors]
    return {"input_ids": tensors[0], "attention_mask": tensors[1]}


def plan_batches(
    lengths: Sequence[int],
    *,
    max_tokens: int | None = None,
    batch_size: int | None = None,
    multiple: int = 8,
    limit: int | None = None,
    one_width: bool = False,
) -> list[list[int]]:
    """Split inputs of the given token ``lengths`` into batches of indices, longest first.

    With ``batch_size``: fixed row counts (the caller asked for them). Otherwise each batch holds as many rows
    as fit ``rows x padded_width(first row) <= max_tokens``; a single row longer than the budget gets a batch of
    its own. ``one_width=True`` also ends a batch where the padded width changes, so no row is padded past its
    own width (:attr:`Runtime.one_width_batches <textrobust.models.runtime.Runtime.one_width_batches>`: on the
    CPU, where a forward pass costs by the token and padding is pure waste). Ties keep the input order (stable
    sort), so the plan is deterministic.

    Example:
        >>> plan_batches([10, 10, 10, 10], max_tokens=40)  # width 16 (multiple of 8): two rows per batch
        [[0, 1], [2, 3]]
        >>> plan_batches([30, 12, 10], max_tokens=96), plan_batches([30, 12, 10], max_tokens=96, one_width=True)
        ([[0, 1, 2]], [[0], [1, 2]])
    """
    if batch_size is not None and batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if max_tokens is not None and max_tokens < 1:
        raise ConfigError(f"max_tokens must be >= 1, got {max_tokens}")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    if batch_size is not None:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if max_tokens is None:
        raise ConfigError("plan_batches needs max_tokens= (a token budget) or batch_size= (rows per batch)")
    batches: list[list[int]] = []
    start = 0
    while start < len(order):
        # Sorted longest first: the first row sets the width of the whole batch.
        width = max(1, padded_width(lengths[order[start]], multiple, limit))
        end = min(
            len(order), start + full_rows(lengths[order[start]], max_tokens=max_tokens, multiple=multiple, limit=limit)
        )
        if one_width:
            cut = start + 1
            while cut < end and max(1, padded_width(lengths[order[cut]], multiple, limit)) == width:
                cut += 1
            end = cut
        batches.append(order[start:end])
        start = end
    return batches
