"""End-to-end tests against a real `taskmodel serve` (the Go test
TestPythonClient in cmd/taskmodel starts one and runs these): a Python worker
runs training tasks, fails one, fails those whose results are refused,
gives one back, sees a cancellation, takes over the task of a
killed worker, and a script tracks a three-stage pipeline.

Environment: TASKMODEL_URL, TASKMODEL_TOKEN (a user token),
TASKMODEL_WORKER_TOKEN (a worker token for training and analysis), and
TASKMODEL_E2E_OUT (a file the pipeline test writes its run ids to).
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

from taskmodel import Client, LeaseLost, ProblemError, TaskCancelled, TaskFailed, Tracker, Worker
from taskmodel.models import analysis, training

URL = os.environ.get("TASKMODEL_URL", "")
TOKEN = os.environ.get("TASKMODEL_TOKEN", "")
WORKER_TOKEN = os.environ.get("TASKMODEL_WORKER_TOKEN", "")
HERE = os.path.dirname(os.path.abspath(__file__))


@unittest.skipUnless(URL and WORKER_TOKEN, "needs a taskmodel server: TASKMODEL_URL, TASKMODEL_TOKEN, TASKMODEL_WORKER_TOKEN "
                     "(go test ./cmd/taskmodel -run TestPythonClient sets them)")
class E2E(unittest.TestCase):
    def setUp(self):
        self.client = Client(URL, TOKEN)
        self.wclient = Client(URL, WORKER_TOKEN)

    def run_worker(self, worker, **kwargs):
        """Runs the worker in a thread until it returns (max_tasks)."""
        box = {}

        def target():
            try:
                box["ran"] = worker.run(handle_signals=False, **kwargs)
            except BaseException as e:  # surfaced below
                box["error"] = e

        t = threading.Thread(target=target, daemon=True)
        t.start()
        return t, box

    def join(self, t, box, seconds=120):
        t.join(seconds)
        self.assertFalse(t.is_alive(), "the worker did not return within %ss" % seconds)
        if "error" in box:
            raise box["error"]

    def test_1_training_done_and_failed(self):
        ok = [self.client.create("training", tag="py-ok-%d" % i, base_model="tiny", epochs=3) for i in range(3)]
        bad = self.client.create("training", tag="py-diverges", base_model="tiny", epochs=3)
        self.assertEqual(ok[0]["status"], training.INITIAL_STATUS)
        seen = []
        worker = Worker(URL, WORKER_TOKEN, wait_seconds=2, name="e2e-trainer")

        @worker.handler("training")
        def train(task):
            seen.append(task.data["tag"])
            for epoch in range(task.data["epochs"]):
                task.progress(100.0 * epoch / task.data["epochs"], None)
                if task.data["tag"] == "py-diverges" and epoch == 1:
                    raise TaskFailed(None, "loss diverged at epoch 2")
            return None

        t, box = self.run_worker(worker, concurrency=2, max_tasks=4)
        self.join(t, box)
        self.assertEqual(sorted(seen), sorted(x["tag"] for x in ok + [bad]))
        for x in ok:
            got = self.client.wait(x["task_id"], timeout=30)
            self.assertEqual(got["status"], training.Status.DONE, got)
            self.assertIsNotNone(got["end_date"])
        got = self.client.wait(bad["task_id"], timeout=30)
        self.assertEqual((got["status"], got["error_message"]), (training.Status.FAILED, "loss diverged at epoch 2"))
        history = self.client.history(ok[0]["task_id"])
        self.assertIn("RUNNING", json.dumps(history))
        # The stream of a finished task gives its final state and ends.
        streamed = list(self.client.follow(ok[0]["task_id"], timeout=30))
        self.assertEqual(streamed[-1]["status"], "DONE", streamed)
        rows = self.client.list(task_type="training", status=["D"], limit=100)
        self.assertTrue({x["task_id"] for x in ok} <= {r["id"] for r in rows}, rows)

    def test_2_error_code(self):
        t = self.client.create("analysis", tool_id="profile-my-data", agents=["unified-profiler"])
        urls = self.client.upload_urls(t["task_id"], {"primary": {"filename": "data.csv", "content_type": "text/csv"}})
        self.client.upload(urls["uploads"]["primary"], b"a,b\n1,2\n")
        self.assertEqual(self.client.process(t["task_id"])["status"], analysis.Status.QUEUED)
        worker = Worker(URL, WORKER_TOKEN, wait_seconds=2)

        @worker.handler("analysis")
        def analyse(task):
            task.progress(40, None)
            raise TaskFailed(analysis.ErrorCode.AGENT_ERROR, "the profiler crashed")

        th, box = self.run_worker(worker, max_tasks=1)
        self.join(th, box)
        got = self.client.wait(t["task_id"], timeout=30)
        self.assertEqual((got["status"], got["error_code"]), (analysis.Status.FAILED, analysis.ErrorCode.AGENT_ERROR), got)
        # A model without error codes refuses one, naming the field.
        self.client.create("training", tag="py-refused-code")
        claims = self.wclient.claim(["training"], wait_seconds=5)
        self.assertEqual(len(claims), 1)
        c = claims[0]
        with self.assertRaises(ProblemError) as cm:
            self.wclient.fail(c["id"], c["lease"], "x", error_code="NOPE")
        self.assertEqual((cm.exception.status, cm.exception.field), (400, "error_code"), cm.exception.problem)
        self.wclient.fail(c["id"], c["lease"], "no code")
        self.assertEqual(self.client.get(c["id"])["status"], "FAILED")

    def test_2b_results_refused(self):
        # A result that is not a dict, and one the server refuses, fail the
        # task at once with the reason.
        ids = {tag: self.client.create("training", tag=tag)["task_id"] for tag in ("py-garbage", "py-epochs")}
        worker = Worker(URL, WORKER_TOKEN, wait_seconds=2)

        @worker.handler("training")
        def train(task):
            return "garbage" if task.data["tag"] == "py-garbage" else {"epochs": 5}

        th, box = self.run_worker(worker, max_tasks=2)
        self.join(th, box)
        garbage = self.client.get(ids["py-garbage"])
        self.assertEqual((garbage["status"], garbage["error_message"]),
                         ("FAILED", "the handler returned str, not a dict of result fields (or None for none)"), garbage)
        epochs = self.client.get(ids["py-epochs"])
        self.assertEqual(epochs["status"], "FAILED", epochs)
        self.assertTrue(epochs["error_message"].startswith("the server refused the handler's result: ")
                        and "epochs" in epochs["error_message"], epochs["error_message"])

    def test_2c_release(self):
        # A worker gives back a task it claimed: queued at once, the claim
        # not counted, claimable right away; the lease then holds nothing.
        t = self.client.create("training", tag="py-released")
        claims = self.wclient.claim(["training"], wait_seconds=5, worker="e2e-releaser")
        self.assertEqual([c["id"] for c in claims], [t["task_id"]])
        c = claims[0]
        got = self.wclient.release(c["id"], c["lease"], "no GPU free on this host")
        self.assertEqual(got["status"], "QUEUED", got)
        last = self.client.history(t["task_id"])[-1]
        self.assertEqual((last["event"], last["from_status"], last["to_status"], last["attempt"]), ("requeue", "RUNNING", "QUEUED", 1), last)
        self.assertTrue(last["actor"].endswith(":e2e-releaser"), last)
        self.assertEqual(last["message"], "released by %s (attempt 1, not counted): no GPU free on this host" % last["actor"])
        with self.assertRaises(LeaseLost) as cm:
            self.wclient.release(c["id"], c["lease"])
        self.assertIn("released the task already", cm.exception.detail)
        again = self.wclient.claim(["training"], worker="e2e-releaser")
        self.assertEqual([x["id"] for x in again], [t["task_id"]])
        self.assertEqual(self.wclient.complete(again[0]["id"], again[0]["lease"])["status"], "DONE")
        with self.assertRaises(ProblemError) as cm:
            self.wclient.release(c["id"], c["lease"], "x" * 1001)
        self.assertEqual((cm.exception.status, cm.exception.field), (400, "message"), cm.exception.problem)

    def test_3_cancel_reaches_handler(self):
        t = self.client.create("training", tag="py-cancel", epochs=1000)
        started, observed = threading.Event(), {}
        worker = Worker(URL, WORKER_TOKEN, wait_seconds=2)

        @worker.handler("training")
        def train(task):
            started.set()
            try:
                for step in range(100000):
                    task.progress(min(99, step / 100), None)
                    time.sleep(0.1)
            except TaskCancelled as e:
                observed["at"], observed["reason"], observed["flag"] = time.monotonic(), e.reason, task.cancelled
                raise

        th, box = self.run_worker(worker, max_tasks=1)
        self.assertTrue(started.wait(60), "the handler never started")
        t0 = time.monotonic()
        self.assertEqual(self.client.cancel(t["task_id"])["status"], "CANCELLED")
        self.join(th, box)
        self.assertEqual((observed.get("reason"), observed.get("flag")), ("cancelled", True), observed)
        print("\ncancel reached the Python handler after %.3f s" % (observed["at"] - t0), file=sys.stderr)
        self.assertEqual(self.client.get(t["task_id"])["status"], "CANCELLED")

    def test_4_killed_worker_loses_its_lease(self):
        t = self.client.create("training", tag="py-victim", epochs=1)
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        victim = subprocess.Popen([sys.executable, os.path.join(HERE, "e2e_worker.py")], env=env,
                                  stdout=subprocess.PIPE, text=True)
        self.addCleanup(victim.stdout.close)
        self.addCleanup(lambda: victim.poll() is None and victim.kill())
        line = victim.stdout.readline().split()
        self.assertEqual(line[:2], ["started", t["task_id"]], line)
        lease = line[2]
        # While its worker lives, nobody else gets the task.
        self.assertEqual(self.wclient.claim(["training"], limit=10, wait_seconds=2), [])
        victim.send_signal(signal.SIGKILL)
        victim.wait(30)
        killed = time.monotonic()
        ran = []
        worker = Worker(URL, WORKER_TOKEN, wait_seconds=10, name="e2e-rescuer")

        @worker.handler("training")
        def train(task):
            ran.append((task.id, time.monotonic()))
            task.progress(50, None)
            return None

        th, box = self.run_worker(worker, max_tasks=1)
        self.join(th, box, seconds=180)
        self.assertEqual([r[0] for r in ran], [t["task_id"]])
        print("\nthe task was taken over %.1f s after its worker was killed" % (ran[0][1] - killed), file=sys.stderr)
        self.assertEqual(self.client.get(t["task_id"])["status"], "DONE")
        with self.assertRaises(LeaseLost):
            self.wclient.heartbeat(t["task_id"], lease)
        history = json.dumps(self.client.history(t["task_id"]))
        self.assertIn("QUEUED", history)

    def test_5_pipeline(self):
        tr = Tracker(URL, TOKEN)
        stages = [("PY-PREP", "Fetch data"), ("PY-TRAIN", "Train model"), ("PY-REPORT", "Write report")]
        tr.register(stages=[{"name": s, "order": i + 1} for i, (s, _) in enumerate(stages)],
                    tasks=[{"stage": s, "name": n, "type": "python"} for s, n in stages])
        runs = {}
        for i, (stage, task) in enumerate(stages):
            run = tr.task_start(stage, task, total_subtasks=2, message="starting " + task)
            runs[stage] = run
            tr.subtask_start(run, 1, "load", items_total=10)
            for _ in range(5):
                tr.subtask_increment(run, 1)
            tr.subtask_increment(run, 1, by=5)
            tr.subtask_complete(run, 1, "loaded")
            tr.subtask_start(run, 2, "process")
            tr.subtask_update(run, 2, percent=50, message="half way")
            if i < 2:
                tr.subtask_update(run, 2, "COMPLETED", message="processed")
                tr.task_update(run, percent=100, message="wrapping up")
                tr.task_complete(run, "done")
        with self.assertRaises(ProblemError) as cm:
            tr.task_complete(runs["PY-REPORT"], "too early")
        self.assertEqual((cm.exception.status, cm.exception.current_status), (409, "RUNNING"), cm.exception.problem)
        with self.assertRaises(ProblemError) as cm:
            tr.task_start("NO-SUCH-STAGE", "x")
        self.assertEqual(cm.exception.status, 404)
        self.assertIn("PY-PREP", cm.exception.detail)
        status = {s["stage"]: s for s in tr.get_task_status() if s["stage"].startswith("PY-")}
        self.assertEqual({k: v["status"] for k, v in status.items()},
                         {"PY-PREP": "COMPLETED", "PY-TRAIN": "COMPLETED", "PY-REPORT": "RUNNING"})
        self.assertEqual([r["id"] for r in tr.get_active_tasks() if r["stage"] == "PY-REPORT"], [runs["PY-REPORT"]])
        self.assertEqual(tr.get_task_history(stage="PY-PREP", limit=5)[0]["id"], runs["PY-PREP"])
        subs = tr.get_subtask_progress(runs["PY-REPORT"])
        self.assertEqual([(s["status"], s["percent"]) for s in subs], [("COMPLETED", 100), ("RUNNING", 50)], subs)
        out = os.environ.get("TASKMODEL_E2E_OUT")
        if out:
            with open(out, "w") as f:
                json.dump(runs, f)


if __name__ == "__main__":
    unittest.main()
