"""Prompts for classifiers that are language models: the format, the label words, few-shot examples, and the
meaning-preserving format variants a format-spread evaluation draws.

A :class:`Prompt` turns a text into what a prompted classifier sends to its language model: chat messages (a system
message, few-shot turns, the user's message) or, for a base model without a chat template, one plain string. The
user's message is laid out by a :class:`PromptFormat` — an instruction, then named fields with separators::

    Is the sentiment of this review positive or negative?     <- instruction ({labels}: the label words)
    Review: a charming , often affecting journey              <- text field
    Answer:                                                   <- answer field

and the model is scored on how likely it answers each label's **verbalizer** words (``{"positive": ["positive"]}``).
The same prompt runs in-process (:class:`~textrobust.models.prompted.PromptedClassifier`) and behind an
OpenAI-compatible endpoint (:class:`~textrobust.models.openai.OpenAIChatModel`), so both see identical messages.

Sclar et al. (ICLR 2024, "Quantifying Language Models' Sensitivity to Spurious Features in Prompt Design") showed
accuracy moving by up to 76 points under such formatting alone; :func:`sample_formats` draws seeded variants from a
grammar of separators, casing, spacing, label-word order and field names (:data:`FORMAT_SPACE`).

Standard library only (no torch): the endpoint client and the server use it too.

Example:
    >>> p = Prompt.from_config({"instruction": "Is this review {labels}?", "text_name": "Review"}, ["neg", "pos"])
    >>> p.user_message("a fine film")
    'Is this review neg or pos?\\nReview: a fine film\\nAnswer:'
    >>> p.verbalizers
    {'neg': ('neg',), 'pos': ('pos',)}
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError

TEXT = "{text}"
LABELS = "{labels}"
CASINGS = ("as_is", "lower", "upper", "title")

#: The variant grammar of :func:`sample_formats`: dimension -> the values each field of :class:`PromptFormat` may
#: take. ``field_names`` are synonyms of the base format's names (a name without synonyms only changes casing).
FORMAT_SPACE: dict[str, dict[str, tuple[Any, ...]]] = {
    "separators": {"name_sep": (": ", ":", " : ", " - ", ":: ", " = "), "label_join": (" or ", ", ", " / ")},
    "spacing": {"field_sep": ("\n", "\n\n", " ", " | ", "\n--\n", "; ")},
    "casing": {"casing": CASINGS},
    "label_order": {},  # every permutation of the labels
    "field_names": {},  # synonyms of the text and answer names
}
FIELD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "text": ("Text", "Input", "Passage", "Sentence"),
    "review": ("Review", "Movie review", "Text", "Comment"),
    "sentence": ("Sentence", "Text", "Input"),
    "answer": ("Answer", "Label", "Output", "Response"),
    "sentiment": ("Sentiment", "Answer", "Label"),
    "label": ("Label", "Answer", "Category"),
}


def _case(name: str, casing: str) -> str:
    return {"lower": name.lower(), "upper": name.upper(), "title": name.title()}.get(casing, name)


@dataclass(frozen=True)
class PromptFormat:
    """How the user's message is laid out: ``{instruction}{field_sep}{text_name}{name_sep}{text}{field_sep}
    {answer_name}{name_sep, right-stripped}``. ``casing`` applies to the field names; the instruction's
    ``{labels}`` lists the first word of each label in ``label_order`` (indices into the labels; default: their
    order) joined by ``label_join``.

    Example:
        >>> PromptFormat(casing="upper", name_sep=" - ").render("a fine film", "neg or pos")
        'Classify the text as neg or pos.\\nTEXT - a fine film\\nANSWER -'
    """

    instruction: str = "Classify the text as {labels}."
    text_name: str = "Text"
    answer_name: str = "Answer"
    name_sep: str = ": "
    field_sep: str = "\n"
    casing: str = "as_is"
    label_join: str = " or "
    label_order: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.casing not in CASINGS:
            raise ConfigError(f"prompt: casing {self.casing!r}: use one of {', '.join(CASINGS)}")
        if TEXT in self.instruction:
            raise ConfigError("prompt: the instruction must not hold {text}; the text goes in its own field")
        if self.label_order is not None:
            object.__setattr__(self, "label_order", tuple(int(i) for i in self.label_order))

    def render(self, text: str, labels_text: str) -> str:
        """The user's message for ``text`` (``labels_text`` replaces ``{labels}`` in the instruction)."""
        instruction = self.instruction.replace(LABELS, labels_text)
        parts = [instruction] if instruction else []
        parts.append(f"{_case(self.text_name, self.casing)}{self.name_sep}{text}")
        if self.answer_name:
            parts.append(f"{_case(self.answer_name, self.casing)}{self.name_sep.rstrip()}")
        return self.field_sep.join(parts)

    def describe(self, labels_text: str) -> str:
        """One line showing the layout (``{text}`` for the text, line breaks as ``\\n``)."""
        return self.render(TEXT, labels_text).replace("\n", "\\n")


@dataclass(frozen=True)
class Prompt:
    """Everything a prompted classifier sends around a text: the :class:`PromptFormat` (or a free ``template``
    holding ``{text}``, and optionally ``{labels}``), the ``verbalizers`` (label -> words; a label is scored by the
    most likely of its words), few-shot ``examples`` ((text, label) pairs, shown as earlier turns), an optional
    ``system`` message, and ``chat`` (None: use the model's chat template when it has one).

    Build it with :meth:`from_config`, which checks everything against the labels.
    """

    labels: tuple[str, ...]
    verbalizers: dict[str, tuple[str, ...]]
    format: PromptFormat = field(default_factory=PromptFormat)
    template: str | None = None
    examples: tuple[tuple[str, str], ...] = ()
    system: str | None = None
    chat: bool | None = None

    #: The keys :meth:`from_config` reads (besides the :class:`PromptFormat` fields).
    KEYS = ("template", "verbalizers", "examples", "system", "chat")

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None, labels: Sequence[str], who: str = "prompt") -> Prompt:
        """A checked prompt from a mapping (a spec's ``prompt:`` block or ``--prompt``), for these ``labels``.

        Keys: the :class:`PromptFormat` fields, ``template``, ``verbalizers`` (label -> word or list of words),
        ``examples`` (list of ``{text, label}`` or ``[text, label]``), ``system``, ``chat``. Errors name ``who``.

        Example:
            >>> Prompt.from_config({"template": "Review: {text}"}, ["neg", "pos"]).user_message("ok")
            'Review: ok'
            >>> Prompt.from_config({"template": "Review:"}, ["neg", "pos"], who="smollm2")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            textrobust.errors.ConfigError: smollm2: the prompt template 'Review:' has no {text} placeholder; ...
        """
        config = dict(config or {})
        labels = tuple(str(x) for x in labels)
        if not labels or len(set(labels)) != len(labels):
            raise ConfigError(f"{who}: a prompted classifier needs distinct label names, got {list(labels)}")
        fmt_keys = {f.name for f in dataclasses.fields(PromptFormat)}
        unknown = sorted(set(config) - fmt_keys - set(cls.KEYS))
        if unknown:
            raise ConfigError(f"{who}: unknown prompt setting(s) {unknown}; known: {sorted(fmt_keys | set(cls.KEYS))}")
        template = config.pop("template", None)
        if template is not None and TEXT not in str(template):
            raise ConfigError(
                f"{who}: the prompt template {template!r} has no {TEXT} placeholder; write where the text goes, "
                f"e.g. 'Review: {TEXT}'"
            )
        verbalizers = _verbalizers(config.pop("verbalizers", None), labels, who)
        examples = _examples(config.pop("examples", None) or (), labels, who)
        system = config.pop("system", None)
        chat = config.pop("chat", None)
        if chat is not None and not isinstance(chat, bool):
            raise ConfigError(f"{who}: prompt chat={chat!r}: give true, false or leave it out (auto)")
        try:
            fmt = PromptFormat(**config)
        except TypeError as e:
            raise ConfigError(f"{who}: invalid prompt format ({e})") from None
        except ConfigError as e:
            raise ConfigError(f"{who}: {str(e).removeprefix('prompt: ')}") from None
        _check_order(fmt.label_order, len(labels), who)
        return cls(labels, verbalizers, fmt, None if template is None else str(template), examples, system, chat)

    # ------------------------------------------------------------------------------------------- rendering
    @property
    def labels_text(self) -> str:
        """The label words as the instruction lists them (first word per label, in ``label_order``)."""
        order = self.format.label_order or tuple(range(len(self.labels)))
        return self.format.label_join.join(self.verbalizers[self.labels[i]][0] for i in order)

    def user_message(self, text: str) -> str:
        """The user's message for ``text``."""
        if self.template is not None:
            return self.template.replace(LABELS, self.labels_text).replace(TEXT, text)
        return self.format.render(text, self.labels_text)

    def answer(self, label: str) -> str:
        """What a correct reply to a few-shot example says: the label's first word."""
        return self.verbalizers[label][0]

    def messages(self, text: str) -> list[dict[str, str]]:
        """Chat messages: the system message (if any), each few-shot example as a user and an assistant turn, then
        the user's message for ``text``."""
        out = [{"role": "system", "content": self.system}] if self.system else []
        for ex_text, ex_label in self.examples:
            out += [
                {"role": "user", "content": self.user_message(ex_text)},
                {"role": "assistant", "content": self.answer(ex_label)},
            ]
        return out + [{"role": "user", "content": self.user_message(text)}]

    def plain(self, text: str) -> str:
        """One string for a model without a chat template: the few-shot examples answered, then the text's
        message; the answer continues after it (with a space: :attr:`answer_prefix`)."""
        shots = [f"{self.user_message(t)}{self.answer_prefix(False)}{self.answer(y)}" for t, y in self.examples]
        head = [self.system] if self.system else []
        return "\n\n".join(head + shots + [self.user_message(text)])

    @staticmethod
    def answer_prefix(chat: bool) -> str:
        """What precedes the label word in the reply: nothing in a chat turn, a space after a plain prompt."""
        return "" if chat else " "

    def describe(self) -> str:
        """One line showing the layout of the user's message."""
        if self.template is not None:
            return self.template.replace(LABELS, self.labels_text).replace("\n", "\\n")
        return self.format.describe(self.labels_text)

    def with_format(self, fmt: PromptFormat) -> Prompt:
        """The same prompt laid out with ``fmt`` (label words, examples and system message unchanged)."""
        if self.template is not None:
            raise ConfigError(
                "this prompt is a free template: format variants need its fields (give instruction, text_name, "
                "answer_name, ... instead of template)"
            )
        _check_order(fmt.label_order, len(self.labels), "prompt")
        return dataclasses.replace(self, format=fmt)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for fingerprints and cache keys)."""
        d = dataclasses.asdict(self)
        d["format"] = dataclasses.asdict(self.format)
        return d


def _verbalizers(raw: Any, labels: tuple[str, ...], who: str) -> dict[str, tuple[str, ...]]:
    if raw is None:
        raw = {label: [label] for label in labels}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{who}: verbalizers must map each label to its word(s), e.g. {{{labels[0]}: [...]}}")
    unknown = sorted(set(map(str, raw)) - set(labels))
    if unknown:
        raise ConfigError(f"{who}: verbalizers name label(s) {unknown} that are not among the labels {list(labels)}")
    out: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for label in labels:
        words = raw.get(label, [label])
        words = [words] if isinstance(words, str) else list(words)
        if not words:
            raise ConfigError(f"{who}: label {label!r} has no verbalizer word")
        for w in words:
            if not isinstance(w, str) or not w.strip():
                raise ConfigError(f"{who}: label {label!r} has an empty verbalizer word ({w!r}); give a word")
            if w in owner and owner[w] != label:
                raise ConfigError(f"{who}: the verbalizer word {w!r} is given for both {owner[w]!r} and {label!r}")
            owner[w] = label
        out[label] = tuple(dict.fromkeys(words))
    return out


def _examples(raw: Any, labels: tuple[str, ...], who: str) -> tuple[tuple[str, str], ...]:
    out = []
    for ex in raw:
        text, label = (ex.get("text"), ex.get("label")) if isinstance(ex, Mapping) else tuple(ex)
        if not isinstance(text, str) or str(label) not in labels:
            raise ConfigError(f"{who}: few-shot example {ex!r}: give {{text: ..., label: one of {list(labels)}}}")
        out.append((text, str(label)))
    return tuple(out)


def _check_order(order: tuple[int, ...] | None, k: int, who: str) -> None:
    if order is not None and sorted(order) != list(range(k)):
        raise ConfigError(f"{who}: label_order {list(order)} is not a permutation of 0..{k - 1}")


# ------------------------------------------------------------------------------------------------ variants
def _synonyms(name: str) -> tuple[str, ...]:
    """The base name first, then its synonyms (a name without an entry has none)."""
    return tuple(dict.fromkeys((name, *FIELD_SYNONYMS.get(name.strip().lower(), ()))))


def sample_formats(
    base: PromptFormat,
    n_labels: int,
    k: int,
    *,
    seed: int = 0,
    dimensions: Sequence[str] = tuple(FORMAT_SPACE),
) -> list[PromptFormat]:
    """``k`` distinct formats: ``base`` first, then ``k - 1`` variants drawn (seeded) from :data:`FORMAT_SPACE`
    along ``dimensions``; every other field stays the base's. Fewer than ``k`` when the space is smaller.

    Example:
        >>> fs = sample_formats(PromptFormat(), 2, 4, seed=0)
        >>> len(fs), fs[0] == PromptFormat(), len(set(fs))
        (4, True, 4)
        >>> sample_formats(PromptFormat(), 2, 3, dimensions=["label_order"])[1].label_order
        (1, 0)
    """
    import numpy as np

    unknown = sorted(set(dimensions) - set(FORMAT_SPACE))
    if unknown:
        raise ConfigError(f"format variants: unknown dimension(s) {unknown}; known: {', '.join(FORMAT_SPACE)}")
    if k < 1:
        raise ConfigError(f"format variants: k={k}: give at least 1")
    choices: dict[str, tuple[Any, ...]] = {}
    for dim in dimensions:
        choices.update(FORMAT_SPACE[dim])
        if dim == "label_order":
            choices["label_order"] = tuple(itertools.permutations(range(n_labels)))
        if dim == "field_names":
            choices["text_name"] = _synonyms(base.text_name)
            choices["answer_name"] = _synonyms(base.answer_name)
    base_order = base.label_order or tuple(range(n_labels))
    normal = dataclasses.replace(base, label_order=base_order)
    keys = sorted(choices)
    total = 1
    for key in keys:
        total *= len(choices[key])
    rng = np.random.default_rng(seed)
    seen = {normal}
    out = [base]
    # Rejection sampling over the product space: draws are cheap and the space (thousands) dwarfs k.
    for _ in range(200 * k):
        if len(out) >= min(k, total):
            break
        fmt = dataclasses.replace(normal, **{key: choices[key][int(rng.integers(len(choices[key])))] for key in keys})
        if fmt not in seen:
            seen.add(fmt)
            out.append(fmt)
    return out


__all__ = ["FIELD_SYNONYMS", "FORMAT_SPACE", "Prompt", "PromptFormat", "sample_formats"]
