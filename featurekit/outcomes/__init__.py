"""The outcome loop: what was served, the labels that arrive later, and how right it was.

- `featurekit.outcomes.metrics`: the performance figures (holdout at export, online in
  the server, per window offline), each with its confidence interval; numpy only.
- `featurekit.outcomes.log`: the prediction log writer (Parquet, hourly partitions);
  `.entries` what it buffers and how a run of it becomes columns, `.schema` the
  files' columns, `.files` atomic publishing and retention.
- `featurekit.outcomes.labels`: checking and storing late labels.
- `featurekit.outcomes.reading`: `PredictionLog`, reading the log back.
- `featurekit.outcomes.evaluation`: `evaluate` and `EvaluationReport`.

Light core: serving imports this package, so it imports no scikit-learn.
"""
