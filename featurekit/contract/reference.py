"""The reference check: a contract validated by pandera itself.

Slower than the compiled checks in `Columns.coerce` (about 4 ms per call) and meant for
batch scoring, CI checks and tests; the differential test proves both agree.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa

from featurekit.contract.columns import Columns
from featurekit.contract.failures import Failures
from featurekit.contract.schema import Contract

__all__ = ["validate"]


def validate(contract: Contract, data: Any) -> Any:
    """Check `data` with pandera itself and return the typed frame.

    The reference implementation, slower than `Columns.coerce` (about 4 ms per
    call) and meant for batch scoring, CI checks and tests. Type failures come from
    the coercion rules; every other failure comes from ``schema.validate``.

    Raises
    ------
    ContractError
        With the failure table: column, check, failure_case, index.
    """
    # pandera runs on a positional index, mapped back to the caller's labels at
    # the end: duplicate labels must not merge two rows' failures
    labels: Any = None
    if isinstance(data, pd.DataFrame):
        labels, data = data.index, data.reset_index(drop=True)
    typed, type_failures, n = Columns(
        contract.features, contract.categories, contract.domains, contract.observed
    ).read(data)
    rows = list(type_failures)
    frame = pd.DataFrame(typed)
    try:
        contract.schema().validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        bad_cells = {(c, i) for c, _, _, i in type_failures}
        for rec in exc.failure_cases.itertuples(index=False):
            column, check, case, index = (
                rec.column,
                rec.check,
                rec.failure_case,
                rec.index,
            )
            if rec.schema_context == "DataFrameSchema":
                if check == "column_in_dataframe":
                    continue  # Columns.read reported it, under the column's name
                column, index = case, None  # pandera names the schema here
            if check == "not_nullable" and (column, index) in bad_cells:
                continue  # the cell was unreadable, reported as a dtype failure
            rows.append((column, check, case, index))
    if labels is not None:
        rows = [
            (c, k, v, None if i is None or bool(pd.isna(i)) else labels[int(i)])
            for c, k, v, i in rows
        ]
        frame.index = labels
    if rows:
        Failures(rows).raise_if_any(
            contract.features.name, contract.features.version, n
        )
    return frame
