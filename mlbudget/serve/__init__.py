"""The instrumented model server and its load generator (``mlbudget serve``, ``mlbudget loadgen``).

Modules:

- :mod:`~mlbudget.serve.predictor`: raw JSON rows -> the bundle's input adapter -> ONNX Runtime ->
  classes or regression values;
- :mod:`~mlbudget.serve.metrics`: the Prometheus metrics the budget's alert rules read;
- :mod:`~mlbudget.serve.log_writer`: every request's rows appended to hourly Parquet part files
  in the request-log form that the ``request_log`` source reads;
- :mod:`~mlbudget.serve.http`: the HTTP server (stdlib ``ThreadingHTTPServer``);
- :mod:`~mlbudget.serve.resolve`: which bundle to serve (a folder, or the MLflow champion);
- :mod:`~mlbudget.serve.loadgen`: open-loop Poisson load on ``POST /predict``.
"""
