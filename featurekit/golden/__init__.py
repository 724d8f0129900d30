"""Golden rows: certified answers an artifact carries, re-run on this machine's runtime.

At export, featurekit stores a few hundred of the rows its parity certificate covered
(reference rows, generated edge cases, values beside tree splits) in ``golden.json``:
their raw inputs, scikit-learn's answers and, for tree models, the float64 features the
trees compared, bit for bit (`featurekit.golden.rows`). Loading an artifact runs them
through the onnxruntime session that will serve it and compares
(`featurekit.golden.verify`), so a machine whose runtime answers otherwise is caught
before it serves a request.

Light core: numpy, onnxruntime and the contract; never scikit-learn or pickle.
"""

from featurekit.golden.graph import with_outputs
from featurekit.golden.rows import GOLDEN, GoldenRows
from featurekit.golden.verify import (
    MODES,
    Verification,
    check_mode,
    enforce,
    machine,
    verify,
)

__all__ = [
    "GOLDEN",
    "MODES",
    "GoldenRows",
    "Verification",
    "check_mode",
    "enforce",
    "machine",
    "verify",
    "with_outputs",
]
