"""The fixed text of docs/benchmarks.md: what each bench does and how to read it.

``bench/report.py`` puts these paragraphs beside the figures it reads from the benches'
JSON. They describe the method and the mechanisms behind the figures, never the
figures themselves: those come from the JSON, so that a new run cannot leave the text
stale.
"""

from __future__ import annotations

INTRO = """\
Every figure below comes from the JSON record a bench script wrote (`--json`, into
`bench/results/`), and this page is generated from those records by `bench/report.py`:
change a bench or the generator and regenerate, do not edit the page by hand. Each
section names the exact command that produced its figures, when and on which commit
and machine it ran, and the budgets beside the figures with PASS or MISS.

Speed is measured as ratios against the strongest baseline, run in the same process
(or, for the HTTP server, the same run), interleaved, and summarised by medians: the
median of per-repeat paired ratios, with the 10th to 90th percentile of those ratios
beside it. Absolute times depend on the machine; the ratios are what the budgets bind.

To refresh a section, run its command (the project's virtualenv: `make test` or
`make demo` creates it), then `.venv/bin/python bench/report.py`. Most benches take
`--quick` (a short, indicative run: the smoke tests in `tests/bench/` use it)."""

SCRIPTS = """\
| script | measures |
|---|---|
| `bench/predict.py` (`make bench`) | `Predictor` against bare onnxruntime and scikit-learn |
| `bench/anchors.py` | featurekit against a hand-written skl2onnx wrapper and a bare starlette server (needs `wrk`) |
| `bench/contract.py` | the compiled contract check against pandera |
| `bench/derived.py` | the derived-feature catalogue in serving and training |
| `bench/http_server.py` | the HTTP server against FastAPI + pandera + scikit-learn (needs `wrk`) |
| `bench/grpc_server.py` | the Open Inference Protocol over gRPC against the same server's HTTP ([grpc.md](grpc.md)) |
| `bench/monitor.py` | the live monitor's cost per scored row |
| `bench/drift.py` | drift detection against Evidently |
| `bench/parity_matrix.py` | parity per scikit-learn family, outside the certificate |
| `bench/transform_matrix.py` | parity per transform and model family, outside the certificate |
| `bench/model_coverage.py` | which scikit-learn models export with certified parity ([models.md](models.md)) |
| `bench/export_scale.py` | exporting big forests: time against the fit, size against skl2onnx, memory |
| `bench/spark.py` | Spark scoring (`featurekit.spark.predict`) per core against the single-process `Predictor` (needs Java) |
| `bench/outcomes.py` | the prediction log: its cost in process and over HTTP (needs `wrk`), `evaluate` over 10M rows, kill -9 |
| `bench/compare_power.py` | the champion/challenger tests of `fk.compare`: false promotions and power, simulated ([retraining.md](retraining.md)) |
| `bench/shadow.py` | shadow serving's cost to the champion's answer: p50 at c=1 with `--shadow` against without (needs `wrk`; [outcomes.md](outcomes.md#7-shadow-serving)) |"""

TITLES = {
    "predict": "Predictor against onnxruntime and scikit-learn",
    "anchors": "featurekit against the wrapper and the bare server",
    "contract": "the data contract",
    "derived": "derived features",
    "http_server": "the HTTP server",
    "grpc_server": "gRPC against HTTP, one server",
    "monitor": "the live monitor",
    "drift": "drift detection against Evidently",
    "parity_matrix": "parity per scikit-learn family",
    "transform_matrix": "parity per transform and model family",
    "model_coverage": "which scikit-learn models export",
    "export_scale": "exporting big forests",
    "spark": "Spark scoring per core",
    "outcomes": "the prediction log",
    "compare_power": "champion/challenger: false promotions and power",
    "shadow": "shadow serving's cost to the answer",
}

ABOUT = {
    "shadow": """\
Two artifacts fitted on the bench's credit data: a RandomForest champion (50 trees,
depth 8) and a LogisticRegression challenger. `featurekit serve CHAMPION` and
`featurekit serve CHAMPION --shadow CHALLENGER` are loaded in turn by `wrk` with one
connection sending one-row `POST /predict` requests, rotated over the repeats; the
budget is the median of the per-repeat p50 ratios. The shadow's rows scored and
dropped come from `/monitor` afterwards: the challenger scores what waits in batches
(every 50 ms, or 256 requests), so its Python work meets the request path once per
batch.""",
    "spark": """\
The demo's credit model (`examples/credit_features.yaml`, a 60-tree forest of depth
10) scores the demo's data generated at scale (`examples/credit_data.py`) from Parquet
files, one file per Spark partition: `featurekit.spark.predict` into Spark's `noop`
sink on `local[2]`, against one process that reads each file with pyarrow and scores
it with `Predictor.load(threads=1)`, both with the contract checked and refused rows
kept (`on_error="split"`), alternating per repeat. The figure is
`single_s / (spark_s * 2)`, the median of the per-repeat ratios: Spark's rows per
second per core over the single process's. Spark's time is the whole job's wall
clock, its JVM (Parquet, Arrow to Python and back) on the same two cores; its Python
workers were started by a small job first. On a machine shared with other work both
sides lose cores, Spark's three busy processes (JVM and two workers) more than the
single process; the load average of the run is in the line above, and the rows per
CPU-second (Spark's JVM and Python workers, from /proc, against the single process's
CPU time) say what the cores each side did get were worth. A billion rows at
the measured per-core rate is the core-hours in the table, from the wall clock (on
this shared machine) and from Spark's CPU time (cores of one's own): divide by a
cluster's cores for its wall time ([scale-out.md](scale-out.md)).""",
    "outcomes": """\
The model is the demo's credit model, trained and exported as `examples/train.py` does
(a RandomForest of 60 trees on `examples/credit_features.yaml`, with its holdout
figures). *In process*: two `Predictor`s of one artifact, one with `log=DIR`, both
checking the contract and monitoring drift; calls alternate between them in every
repeat and are timed in process CPU time, which counts the log's background writer
thread. Each block of logged calls ends with a synchronous flush, so that writing every
row (the Arrow table, the Parquet file, the rename) is charged to the log; the CPU
before that closing flush is buffering references to the scored arrays (and whatever
the background writer did meanwhile). *HTTP*: `featurekit serve` with and without
`--log`, loaded in turn by `wrk` at 8 connections with one row a request; each server's
own CPU a request is read from `/proc` around every run. *Evaluate at scale*: rows
written through the real `LogWriter` (backdated appends of 100,000 scored rows spread
over a week) and labels for every other row written as the log stores them, then
`evaluate` with daily windows.
*kill -9*: `featurekit serve --log` (flush interval 1 s) under four client threads that
send their own ids, killed with SIGKILL; every Parquet file is read back with pyarrow
and its ids compared with the answers the clients received. Flushes are paced so that
a row's file is in place within one interval of its arrival (the next flush starts an
interval after the last began, less that write's duration), so only the rows of the
last interval can be lost, unless a write takes much longer than the one before it.""",
    "predict": """\
The bench fits each model on a generated 10-column credit dataset (6 numeric columns
with impute, clip, log1p, scale and bounds, 4 categoricals, missing values, and a few
unseen categories at scoring time), exports it and times, in one process,
`Predictor.predict_proba` against a bare `InferenceSession.run` on prebuilt inputs (the
predictor's own session: featurekit's graph, without featurekit around it) and against
the scikit-learn pipeline, with and without a pandera validation of the row.

- The bare baseline is the predictor's own session, which runs single-threaded inside
  onnxruntime to keep tree sums in scikit-learn's order; `Predictor` scores large
  batches in parallel 16k-row chunks, which is how it can exceed 1x at 100k rows. The
  context line "default-threaded ort" compares with a fresh onnxruntime session and
  its default thread pool.
- The single-row overhead is reading the record into typed arrays (the contract's
  single-row path) and onnxruntime running on freshly allocated inputs rather than the
  same prebuilt ones.
- `Predictor` is loaded with its defaults, drift monitoring on.
- The scikit-learn + pandera baseline validates a pandera schema mirroring the contract
  on a one-row frame, then calls `predict_proba`.""",
    "anchors": """\
What a user would otherwise write, on the same data (4 numeric columns with median
impute and standard scaling, 3 one-hot categoricals with unseen categories ignored) and
the same model (issue 18):

- **the wrapper**, as the skl2onnx tutorial does it: scikit-learn's ColumnTransformer
  and the model converted with `convert_sklearn`, one `[None, 1]` input per column,
  `zipmap=False`; `predict(record)` builds `np.array([[v]])` feeds and calls
  `session.run` on a 1-thread session; no checks, no monitoring;
- **the bare server** (`bench/_anchor_server.py`): a starlette app with one POST route,
  orjson in and out, the same feeds and session, uvicorn with uvloop and httptools,
  access log off, one worker.

featurekit's side declares the same columns (`fk.Numeric(impute="median",
scale="standard")`, `fk.Categorical(unknown="ignore")`) and runs
`Predictor.predict_proba` with the contract and drift monitoring on, and `featurekit
serve` with contract, monitoring and metrics on, and its default dynamic batching
(concurrent one-record requests scored in one run of the graph, each answered byte for
byte as alone: [http.md](http.md#behaviour)); the bare server scores each request
alone. One-row calls and HTTP requests take
4,096 different rows of the data in turn, as real traffic would (one row sent again and
again makes every drift window a drifted one, whose tests then run their longest, on a
thread that shares the interpreter). Ratios are featurekit over the anchor
(time for one row; throughput for 100k rows and HTTP; p50 latency for HTTP), medians
of per-repeat paired ratios. The context lines say where the time goes:

- the two graphs alone on prebuilt feeds, with their node counts: onnxruntime pays a
  fixed cost per node. featurekit's logistic regression computes `exp` with its exact
  kernel (so that a row's probability does not depend on its batch or the CPU: about
  25 of its nodes); its random forest sums each class's probability in float64 over
  its own copy of the trees (onnxruntime's `TreeEnsemble` has one target per leaf:
  200 tree walks for 2 classes, where the wrapper's float32 `TreeEnsembleClassifier`
  walks 100) and reads float32-rounded features;
- the same graphs "caches cold": each run after other work (JSON parsed, dicts
  walked, 4 MiB written), as a server runs its graph between requests. Every graph
  runs 2 to 4 times slower so, which is why a node costs more over HTTP than in a
  loop;
- featurekit with drift monitoring off, in process and over HTTP (`featurekit serve
  --no-monitor`): the monitor counts each 256 rows together on the request path
  (about 2 ms, once every 256 requests) and tests each closed window (5 to 6 ms) on a
  thread that shares the interpreter's lock, so at c=1 its cost shows in the tail
  (p99) and so in the throughput, which at c=1 is one over the mean latency, more than
  at p50.

The workers line runs `featurekit serve --workers N`
(N = the machine's cores, at most 4) at c=8 against one worker: its throughput per
worker; wrk runs on the same cores (the bench prints the cores it used), and the 8
connections are shared among the workers, so each batches fewer requests at a time than
one worker does.""",
    "contract": """\
The bench times, in one process, the compiled check alone (`Columns.coerce` of a
dict), `Predictor.predict` against a bare `session.run` on prebuilt inputs,
scikit-learn `predict_proba` plus pandera's `schema.validate` on the same row, and a
100k-row batch, at 10 and 50 raw columns (60 % numeric, 40 % categorical), with cheap
models on purpose, so that the contract's share shows. The contract lines use a
`Predictor` with drift monitoring off; the "+ drift monitoring" lines turn it on, and
the same budgets apply.

Batch checking is cheap per cell because Arrow-backed string columns are read with
`factorize`, so the category checks run once per distinct value, and one min/max pass
decides which numeric checks can fail at all. The 20 µs check is an absolute time, not
a ratio: of all the budgets here it is the one a loaded machine moves most.""",
    "grpc_server": """\
One `python -m serving ARTIFACT --grpc-port N` process serves the credit model
(LogisticRegression) over both protocols; one client in the bench process sends
one-row requests one at a time, every body built beforehand, the variants interleaved.
The ratio is HTTP's time per request over gRPC's (above 1: gRPC is faster). Both run
the same decoding (`serving.oip.decode_infer`), contract, model and metrics on the same
worker threads, so the difference is the transport: uvicorn with httptools and uvloop
against grpcio's server threads. A single Python client at c=1 is a latency figure,
not the server's capacity.""",
    "derived": """\
The bench serves the catalogue of
[declarations.md](declarations.md#derived-features-written-once-computed-in-the-graph)
(18 declarations over 8 raw columns: two date-times, one as ISO text, ratios, logs,
flags, date parts, buckets, crossed, hashed and TF-IDF features) with a
LogisticRegression, and times it interleaved in one process.

The graph itself is the cost of one row here: most of it is the text column's
tokenizer loop and the exact `log` kernel (33 nodes); onnxruntime's per-node overhead
dominates at one row. A plain model without text or logs costs what the HTTP figures
show.""",
    "http_server": """\
The bench loads the real server (`python -m serving`, one worker, drift monitoring on)
and, in the same run, a FastAPI app that unpickles the same pipeline, validates each
request with pandera and calls scikit-learn's `predict_proba` (`bench/_http_baseline.py`,
uvicorn with uvloop and httptools, as ours). `wrk` sends one-row JSON POSTs at each
concurrency, one server under load at a time, the endpoints interleaved over repeats;
the table shows medians over repeats. Startup is process start until
`/v2/health/ready` answers 200 (503 until the model is loaded). `wrk`, the server
under load and the idle other server share the machine's cores; nothing is pinned.""",
    "monitor": """\
Monitoring in the server counts each scored row into the current window and tests a
closed window on a background thread. The budget line times the monitor's hot path
itself (`Monitor.observe` on the feeds and answers a `Predictor` hands it), in process
CPU time, on the demo's model (`examples/credit_features.yaml`). The paired `Predictor`
timings with and without monitoring are context: the difference of two larger
timings, they spread widely on a shared machine. Testing a closed window happens off
the request thread.""",
    "drift": """\
The bench runs featurekit and Evidently (its default `DataDriftPreset` tests and
thresholds, in a virtualenv of its own with pandas < 3, `bench/.venv-evidently`) on
the same seeded data: a 10k-row reference and 1,000-row windows (20, 50 and 100 rows in
the small-window cells), with drift injected per cell. Rates are the share of (window,
column) pairs flagged, or of windows for the dataset-level verdict, with Wilson 95 %
intervals. featurekit's multivariate row (the inputs' joint reconstruction error, see
[monitoring.md](monitoring.md#multivariate-drift)) is shown per cell as context; the
correlation flip leaves every column's own distribution unchanged, so only that row can
see it. Null cells run more windows than the others (the run's `null_trials`), since a
rate near 5 % needs about 400 to be read to ±2 points; so does the 0.1σ power cell.
The power cells take their windows in turn against 5 reference draws (5 artifacts,
Evidently on the same references): a 10,000-row reference sits off its population by
about 0.01σ, and one fixed reference moved the power at 0.1σ by several points (59 %
against one draw whose mean sat 0.009σ high; 63 % over five). Each share-doubling cell shows its
**ceiling**: the exact one-sided binomial test of the doubled category's count on the
same windows, the most powerful test of that shift, which knows the category; at 5 %
over the report's rows (the cut-off a row that alone moved must meet) and at 5 %
(knowing the column too). See
[monitoring.md](monitoring.md#small-windows).

Evidently's dataset-level rule (drift when at least half of the columns drift) almost
never fires when 2 of 6 columns shift. The timed frame is drifted on features only
(`outputs=False`, as Evidently's preset has no model); each side runs in a subprocess
of its own, so that peak memory (growth of the resident set during the call)
compares.""",
    "model_coverage": """\
Issue 19's 37 common scikit-learn estimators and those added since, each fitted on a
penguins-like (classifiers) or cars-like (regressors) table and exported: exported
with a passing certificate, refused in featurekit's words, or a raw error (a bug).
The table, per estimator, is [models.md](models.md), which the same run writes.""",
    "parity_matrix": """\
Every supported scikit-learn family against six datasets: each export must pass the
certificate (every label equal and |Δp| ≤ 1e-5; regressors 1e-5 relative to the
prediction scale, see [parity.md](parity.md)), and the independent check compares
`Predictor` with the scikit-learn pipeline on held-out rows with missing values and
unseen categories and on adversarial rows, including raw values at and beside every
tree split. What it checks is described in
[parity.md](parity.md#checking-the-certificate-independently). Classifier diffs are
|Δp|; regressor diffs are |Δ| / std(y).""",
    "transform_matrix": """\
Every transform crossed with LogisticRegression, RandomForest, HistGradientBoosting,
LightGBM and XGBoost on a binary target, and with Ridge and LightGBM on a regression
target. Each cell is the worst |Δ| of the certificate and the independent check over
the family's rows; classifiers need every label equal and |Δp| ≤ 1e-5, regressors
|Δ| ≤ 1e-5 × max(std(y), |ŷ|). What it checks is described in
[parity.md](parity.md#checking-the-certificate-independently).

How to read the cells:

- XGBoost's cells are larger than the others because XGBoost sums in float32 and uses
  its own `exp`, which the graph repeats; every other family agrees to a few float64
  ulps.
- `fk.Custom` before a tree model is certified only when its features are
  bit-identical to scikit-learn's on every certified row. A last-bit difference flips a
  tree's split when the value sits on it, and split values of a custom block cannot be
  mapped back to raw inputs. skl2onnx's PCA, for one, is `Sub` then `MatMul`, while
  scikit-learn computes `X @ C.T - mean @ C.T`, so the last bits differ on most rows
  and the certificate refuses it before trees (`ParityError`, in the table). Linear
  models absorb such differences.
- Split rows are generated for plain `Numeric` columns only; derived, bucketized, date
  and custom blocks are covered by the bit-identical-features rule.
- A ratio needs a denominator that cannot be tiny before scikit-learn's forests:
  declared as a float, `amount / items` at `items = 1e-300` overflows float32, which
  scikit-learn's RandomForest rejects, and the certificate refuses the export. The
  bench declares `items` as what it is, a count (`dtype="int"`).""",
    "export_scale": """\
Each case fits a `RandomForestClassifier` (default depth, `random_state=0`) on the
demo's credit data generated at scale (`examples/credit_data.py`, 7 raw columns,
`examples/credit_features.yaml`), pickles it, then exports it in a fresh process, fit
and export alternating in each repeat; the export/fit figure is the median of the
per-repeat ratios. The export includes the whole certificate (the trees probed one by
one, the features at every split value, the whole model on the reference, edge and
golden rows), the golden rows and the write; the phases are timed through
`fk.export`'s `progress=` callback. The artifact (every file; `pipeline.joblib` is not
written by default) is compared with skl2onnx's graph of the bare forest
(`convert_sklearn`, float inputs, ZipMap off), and the peak RSS is the exporting
process's, pipeline loaded. Before the per-tree certificate, the 200-tree case
exported in 300 s (60x its fit) with a 289 MB artifact, most of it `pipeline.joblib`,
and the 300-tree case certified 5 million rows with the whole forest.""",
    "compare_power": """\
Each run draws paired model outputs on 5,000 rows from a seeded generator and asks the
test `fk.compare` runs on the rows both models accept
(`featurekit.comparing.paired.paired`) whether to promote, at one-sided alpha 0.05.
*Equal models*: both right on a row with the same probability, with 10 %, 20 % or
32 % of the rows discordant (32 %: two 80 % models whose errors are independent, the
worst case for a paired test). *+2 points*: the challenger at 82 % against 80 %.
*Plus noise*: probabilities from a logit, the challenger's logit the champion's plus
independent noise (never better); *exchangeable*: each model the true logit plus its
own noise of one size (equal in the population). Accuracy is tested with McNemar's
mid-p test, ROC AUC with DeLong's, log loss with the paired bootstrap (fewer runs:
each resamples 1,000 times). The exact conditional McNemar test is discrete, so its
false-promotion rate sits under 5 % by up to half a binomial step, and at 32 %
discordance its power for 2 points was 79.7 %; the mid-p test (Fagerland, Lydersen
and Laake, 2013) keeps the false-promotion rate at 5 % on average over the number of
discordant rows and gains that power back (last column: the exact test's figures).
The power for 2 points depends on how often the two models disagree, and is lowest
when their errors are independent.""",
}
