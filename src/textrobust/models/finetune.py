"""The fine-tuning loop behind :meth:`TextClassifier.fit`.

AdamW with linear warm-up/decay, length-grouped batches with dynamic padding (the big win over padding to a fixed
length), gradient clipping, autocast on CUDA (the runtime's precision), seeded data order, optional early stopping on
an eval split, and a progress bar with the running loss. Under ``accelerate launch`` / ``torchrun`` the processes train
one model data-parallel (DDP; see :mod:`textrobust.models.distributed`).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from ..data import LabeledData
    from .classifier import TextClassifier, TrainConfig

log = logging.getLogger(__name__)


def length_grouped_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffle, then sort within mega-batches of 50 batches by length, so each batch holds similar lengths
    (little padding) while the order stays random; the batch order is shuffled too.

    Example:
        >>> b = length_grouped_batches(np.array([1, 9, 2, 8]), 2, np.random.default_rng(0))
        >>> sorted(sorted(int(np.array([1, 9, 2, 8])[i]) for i in x) for x in b)
        [[1, 2], [8, 9]]
    """
    perm = rng.permutation(len(lengths))
    mega = batch_size * 50
    batches: list[np.ndarray] = []
    for start in range(0, len(perm), mega):
        chunk = perm[start : start + mega]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


# Parameters without weight decay: biases and normalisation weights (BERT's LayerNorm, GPT-2's ln_*, RMSNorm).
NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight", "ln_")


def adamw(model: Any, lr: float, weight_decay: float, device: str) -> Any:
    """AdamW over ``model``'s trainable parameters, without weight decay on :data:`NO_DECAY` (fused on CUDA)."""
    import torch

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in named if not any(k in n for k in NO_DECAY)], "weight_decay": weight_decay},
        {"params": [p for n, p in named if any(k in n for k in NO_DECAY)], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, fused=str(device).startswith("cuda") or None)


def backward_step(loss: Any, model: Any, optimizer: Any, scaler: Any, max_grad_norm: float) -> None:
    """One optimisation step: backward (scaled under fp16), gradient clipping to ``max_grad_norm``, step."""
    import torch

    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()


def fit(
    clf: TextClassifier,
    train: LabeledData,
    eval: LabeledData | None,
    cfg: TrainConfig,
    *,
    epoch_callback: Callable[..., tuple[list[str], list[int]]] | None = None,
    progress: bool = True,
    on_progress: Callable[[str], None] | None = None,
) -> None:
    """Fine-tune ``clf`` in place on ``train``; see :class:`~textrobust.models.TrainConfig` for the knobs.

    ``on_progress`` hears where training is, as ``epoch 2/3 · 41%``, each time the percentage moves (a caller
    showing a run's progress: the experiment runner's unit line).

    The caller's random state is left as it was: dropout draws from a generator seeded with ``cfg.seed`` for this
    call only (:func:`torch_seed`), so the same seed trains the same model whatever ran before.
    """
    if list(train.label_names) != clf.labels:
        raise ConfigError(f"training labels {train.label_names} differ from the model's labels {clf.labels}")
    if len(train) == 0:
        raise ConfigError("training data is empty")
    if cfg.early_stopping_patience is not None and eval is None:
        raise ConfigError("early stopping needs an eval split; pass eval data or drop early_stopping_patience")
    with torch_seed(cfg.seed, clf.device):
        _train(clf, train, eval, cfg, epoch_callback, progress, on_progress)


@contextlib.contextmanager
def torch_seed(seed: int, device: str = "cpu") -> Iterator[None]:
    """Seed torch's global generators for the block only: the CPU one and, on CUDA, the device's; both are put
    back as they were afterwards (``torch.random.fork_rng``), so seeded training leaves the caller's random state
    alone.

    Example:
        >>> import torch
        >>> before = torch.random.get_rng_state()
        >>> with torch_seed(0):
        ...     _ = torch.rand(1)
        >>> bool((torch.random.get_rng_state() == before).all())
        True
    """
    import torch

    dev = torch.device(device)
    cuda = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.random.default_generator.manual_seed(seed)
        for index in cuda:  # only the device in use: seeding all of them would touch the caller's other GPUs
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        yield


def _train(
    clf: TextClassifier,
    train: LabeledData,
    eval: LabeledData | None,
    cfg: TrainConfig,
    epoch_callback: Callable[..., tuple[list[str], list[int]]] | None,
    progress: bool,
    on_progress: Callable[[str], None] | None = None,
) -> None:
    import torch

    from ..progress import note, steps
    from .distributed import DataParallel

    model = clf.model
    device = clf.device
    ddp = DataParallel(device)  # under accelerate launch / torchrun: data-parallel over the launched processes
    step_model = ddp.wrap(model)
    rng = np.random.default_rng(cfg.seed)  # data order
    base_ids = clf.encode(train.texts)
    base_labels = list(train.labels)

    optimizer = adamw(model, cfg.lr, cfg.weight_decay, device)
    # The schedule follows training progress in epochs, so data added by an epoch callback does not
    # push the learning rate past zero.
    state = {"progress": 0.0}
    warm = cfg.warmup_ratio * cfg.epochs

    def lr_factor(_: int) -> float:
        p = state["progress"]
        if warm > 0 and p < warm:
            return max(p / warm, 1e-3)
        return max(0.0, (cfg.epochs - p) / max(cfg.epochs - warm, 1e-9))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    scaler = clf.runtime.grad_scaler()

    best_acc, best_state, bad_epochs = -1.0, None, 0
    for epoch in range(cfg.epochs):
        ids, labels = list(base_ids), list(base_labels)
        if epoch_callback is not None and epoch > 0:
            model.eval()
            extra_texts, extra_labels = epoch_callback(clf, epoch, list(train.texts), list(train.labels))
            if extra_texts:
                ids += clf.encode(extra_texts)
                labels += list(extra_labels)
                log.info("epoch %d: %d extra examples from the epoch callback", epoch + 1, len(extra_texts))
        lengths = np.array([len(x) for x in ids])
        batches = ddp.shard(length_grouped_batches(lengths, cfg.batch_size, rng))
        labels_arr = np.asarray(labels)
        model.train()
        bar = steps(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", enabled=progress, unit="batch")
        running = None
        loss_sum, loss_n = torch.zeros((), device=device), 0
        shown = -1
        for step, idx in enumerate(bar):
            batch = clf.pad([ids[i] for i in idx])
            target = torch.as_tensor(labels_arr[idx]).to(device, non_blocking=True)
            with clf.runtime.autocast(training=True):
                logits = step_model(**batch).logits
            loss = torch.nn.functional.cross_entropy(logits.float(), target)
            backward_step(loss, model, optimizer, scaler, cfg.max_grad_norm)
            state["progress"] = epoch + (step + 1) / len(batches)
            scheduler.step()
            if on_progress is not None and (pct := 100 * (step + 1) // len(batches)) != shown:
                shown = pct
                on_progress(f"epoch {epoch + 1}/{cfg.epochs} \u00b7 {pct}%")
            # Reading the loss forces a GPU sync: do it every 20 steps, not every step.
            loss_sum += loss.detach()
            loss_n += 1
            if loss_n == 20 or step == len(batches) - 1:
                value = float(loss_sum) / loss_n
                running = value if running is None else 0.5 * running + 0.5 * value
                bar.set_postfix(loss=f"{running:.4f}")
                loss_sum.zero_()
                loss_n = 0
        bar.close()
        model.eval()
        clf.forget_inference_copies()  # the weights moved: an int8 copy made before would be stale
        acc = float((clf.predict(eval.texts) == np.asarray(eval.labels)).mean()) if eval is not None else None
        note(
            f"epoch {epoch + 1}/{cfg.epochs}: train loss {running or math.nan:.4f}"
            + (f", eval accuracy {acc:.4f}" if acc is not None else ""),
            enabled=progress,
        )
        if acc is not None:
            log.info("epoch %d: train loss %.4f, eval accuracy %.4f", epoch + 1, running or math.nan, acc)
            if cfg.early_stopping_patience is not None:
                if acc > best_acc:
                    best_acc, bad_epochs = acc, 0
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    bad_epochs += 1
                    if bad_epochs >= cfg.early_stopping_patience:
                        log.info("early stopping after epoch %d (best eval accuracy %.4f)", epoch + 1, best_acc)
                        break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()


__all__ = ["adamw", "backward_step", "fit", "length_grouped_batches", "torch_seed"]
