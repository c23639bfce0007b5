"""The worker tier's yardstick: Celery on the same Redis, running the same jobs as bin/tier.rs.

The worker:    CELERY_BROKER=redis://127.0.0.1:P/0 celery -A celery_peer worker -c 2 ...
The submitter: CELERY_BROKER=... python3 celery_peer.py roundtrip|throughput add|fib JOBS [N]
               -> prints "jobs_per_sec <float>"

Celery's defaults otherwise (prefork pool, early acknowledgement, the Redis result backend):
what a user gets from the tutorial. Warm-up jobs run before the clock starts, as on the Rust side.
"""
import os
import sys
import time

from celery import Celery
from celery.result import ResultSet

URL = os.environ.get("CELERY_BROKER", "redis://127.0.0.1:6379/0")
app = Celery("celery_peer", broker=URL, backend=URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    result_expires=600,
)


def plain_fib(n):
    return n if n < 2 else plain_fib(n - 1) + plain_fib(n - 2)


@app.task
def add(x, y):
    return x + y


@app.task
def fib(n):
    return plain_fib(n)


def main():
    kind, job, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    for _ in range(8):
        add.delay(1, 1).get(timeout=30)
    submit = (lambda i: add.delay(i, i)) if job == "add" else (lambda i: fib.delay(n))
    want = plain_fib(n)
    expect = (lambda i: 2 * i) if job == "add" else (lambda i: want)
    start = time.perf_counter()
    if kind == "roundtrip":
        for i in range(jobs):
            assert submit(i).get(timeout=60) == expect(i)
    else:
        # ResultSet.get joins natively on the Redis backend (one subscription for all), the
        # fastest way Celery offers to collect many results.
        results = ResultSet([submit(i) for i in range(jobs)])
        assert len(results.get(timeout=120)) == jobs
    print("jobs_per_sec", jobs / (time.perf_counter() - start))


if __name__ == "__main__":
    main()
