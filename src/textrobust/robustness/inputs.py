"""The experiment's data: train / test / validation sources loaded once, with the fixed subsamples applied."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from ..data import LabeledData, load_dataset
from ..errors import ConfigError, DataError
from .spec import Experiment, Source, resolve_path

log = logging.getLogger(__name__)


@dataclass
class LoadedData:
    train: LabeledData | None  # None when every condition is a fixed model
    test: LabeledData
    validation: LabeledData | None

    @property
    def label_names(self) -> list[str]:
        return (self.train or self.test).label_names


def load_source(src: Source, label_names: list[str] | None = None, where: str = "data.train") -> LabeledData:
    """One data source of the spec; its errors name the spec's keys (``where``: ``data.test``, ...)."""
    try:
        return load_dataset(
            resolve_path(src.path),
            text_column=src.text_column,
            label_column=src.label_column,
            encoding=src.encoding,
            fmt=src.format,
            label_names=src.label_names or label_names,
        )
    except DataError as exc:
        raise DataError(spec_hint(str(exc), where)) from None


#: The data layer's hints name the command-line options; in an experiment file the same settings are keys.
_OPTION_KEYS = {
    "--text-column": "text_column",
    "--label-column": "label_column",
    "--encoding": "encoding",
    "--format": "format",
}


def spec_hint(message: str, where: str) -> str:
    """``message`` with command-line options turned into the spec's keys under ``where``.

    Example:
        >>> spec_hint("x.csv: no text column 'review' (choose with --text-column)", "data.test")
        "x.csv: no text column 'review' (choose with data.test.text_column)"
        >>> spec_hint("pass the file's encoding (e.g. --encoding cp1252)", "data.train")
        "pass the file's encoding (e.g. data.train.encoding: cp1252)"
    """
    for option, key in _OPTION_KEYS.items():

        def as_key(m: re.Match[str], key: str = key) -> str:
            return f"{where}.{key}" + (f":{m[1]}" if m[1] else "")

        message = re.sub(rf"{option}( [\w-]+)?", as_key, message)
    return message


def load_data(exp: Experiment) -> LoadedData:
    """Load train/test(/validation) and apply the fixed subsamples (the same for every condition and seed)."""
    if exp.data.train is None:  # a scan of fixed models: test data only
        if exp.data.test is None:  # DataSpec refuses this (test_split needs a train source)
            raise ConfigError("data: without a train source give a test source")
        test = load_source(exp.data.test, where="data.test")
        if exp.data.test_size:
            test = test.sample(exp.data.test_size, seed=exp.data.sample_seed)
        return LoadedData(None, test, None)
    train = load_source(exp.data.train)
    if exp.data.test is not None:
        test = load_source(exp.data.test, train.label_names, "data.test")
    else:
        train, test = train.split(exp.data.test_split or 0.2, seed=exp.data.sample_seed)
    val = load_source(exp.data.validation, train.label_names, "data.validation") if exp.data.validation else None
    if exp.data.deduplicate:
        seen = list(train.texts)  # before dropping: a test text that is a conflicting training text goes too
        train, dropped = train.deduplicated()
        log.info("train: dropped %s", dropped)
        test, dropped = test.deduplicated(exclude=seen)
        log.info("test: dropped %s", dropped)
        if val is not None:
            val = val.deduplicated(exclude=seen + test.texts)[0]
    if exp.data.exclude_test_overlap:
        train = _without_overlap(train, test)
    if exp.data.train_size:
        train = train.sample(exp.data.train_size, seed=exp.data.sample_seed)
    if exp.data.test_size:
        test = test.sample(exp.data.test_size, seed=exp.data.sample_seed)
    return LoadedData(train, test, val)


def _without_overlap(train: LabeledData, test: LabeledData) -> LabeledData:
    # Compare letters only: the same sentence is often tokenised differently ("can't" vs "ca n't").
    def key(t: str) -> str:
        return "".join(ch for ch in t.lower() if ch.isalpha())

    seen = {key(t) for t in test.texts}
    keep = [i for i, t in enumerate(train.texts) if key(t) not in seen]
    log.info("excluded %d training rows that overlap the test set", len(train) - len(keep))
    return train.subset(keep)
