"""Champion/challenger comparison: `compare` two served models on the same rows.

`compare` loads both artifacts as `serving.Predictor` s, scores the rows with each,
and returns a `Comparison` whose verdict ("promote", "keep", "inconclusive") comes
from paired tests (`featurekit.comparing.stats`), slice tests, contract
compatibility and drift between the two reference profiles.
"""

from featurekit.comparing.gate import compare
from featurekit.comparing.result import Comparison

__all__ = ["Comparison", "compare"]
