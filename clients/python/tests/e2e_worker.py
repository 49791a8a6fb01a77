"""A worker process for the end-to-end tests: runs training tasks whose
handler prints "started ID LEASE" and then reports progress until it is
killed. Arguments: none; TASKMODEL_URL and TASKMODEL_WORKER_TOKEN."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from taskmodel import Worker  # noqa: E402

worker = Worker(os.environ["TASKMODEL_URL"], os.environ["TASKMODEL_WORKER_TOKEN"], name="e2e-victim", wait_seconds=5)


@worker.handler("training")
def train(task):
    print("started %s %s" % (task.id, task.lease), flush=True)
    while True:
        task.progress(10, None)
        time.sleep(0.5)


worker.run(concurrency=1, max_tasks=1)
