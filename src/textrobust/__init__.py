"""textrobust: make text classifiers robust, and prove it.

Subpackages: ``data`` (load/save labelled text), ``models`` (classifier wrapper), ``augment`` (operators),
``adversarial`` (attacks, adversarial training), ``robustness`` (retrain-and-score harness), ``reports``.
Importing this package is cheap: heavy libraries (torch, transformers) load inside the functions that need them.
"""

__version__ = "0.2.0"
