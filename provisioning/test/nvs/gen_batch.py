"""Runs esp-idf-nvs-partition-gen's `generate` on many CSVs in one process (~0.3 s per
process start saved per CSV). stdin: JSON [{"csv", "out", "size", "version"}];
stdout: one JSON line per job, {"ok": true} or {"ok": false, "error": "..."}."""
import contextlib
import io
import json
import os
import sys
from types import SimpleNamespace

from esp_idf_nvs_partition_gen import nvs_partition_gen as gen

jobs = json.load(sys.stdin)
results = []
for job in jobs:
    sink = io.StringIO()
    os.chdir(job.get('cwd') or os.getcwd())
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            gen.generate(SimpleNamespace(input=[job['csv']], output=job['out'], size=job['size'],
                                         version=job['version'], outdir=os.getcwd()))
        results.append({'ok': os.path.exists(job['out'])})
    except BaseException as e:  # log.die raises SystemExit
        results.append({'ok': False, 'error': f'{type(e).__name__}: {e} {sink.getvalue()[-300:]}'})
print(json.dumps(results))
