"""Typed exceptions. Every message is one line that says what is wrong and what to do.

The CLI turns any :class:`TextRobustError` into that line on stderr and exit code 2 (no traceback unless
``--debug``). Library callers can catch the specific subclass.
"""

from __future__ import annotations


class TextRobustError(Exception):
    """Base class for errors caused by user input (files, parameters, configs), not by bugs."""


class DataError(TextRobustError):
    """A data file or dataset cannot be read, written or validated."""


class ConfigError(TextRobustError, ValueError):
    """A parameter, operator spec or experiment config is invalid."""


class ModelError(TextRobustError):
    """A model cannot be loaded, saved or used as asked."""


class ResourceError(TextRobustError):
    """A required resource (word list, lexicon, encoder, NLTK data, ...) is missing or unreadable."""


class LanguageError(ConfigError):
    """The input's language is one a part (operator, recipe, suite, filter, pack) does not support, or cannot be
    told (mixed or undetermined): the message names the part and the languages it supports."""
