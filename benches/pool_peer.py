"""The process-pool yardstick: Python's ProcessPoolExecutor running the same jobs as bin/pool.rs.

Usage: python3 pool_peer.py tiny JOBS WORKERS   -> prints "jobs_per_sec <float>"
       python3 pool_peer.py fib JOBS WORKERS N  -> prints "seconds <float>"

The pool is started and warmed up (one job per worker) before the clock starts, as on the Rust
side; each job is one `submit` (the common pattern in an async server: one request, one job).
"""
import sys
import time
from concurrent.futures import ProcessPoolExecutor, wait


def tiny(x):
    return x + 1


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def main():
    kind, jobs, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with ProcessPoolExecutor(max_workers=workers) as pool:
        wait([pool.submit(tiny, i) for i in range(workers * 4)])
        start = time.perf_counter()
        if kind == "tiny":
            futures = [pool.submit(tiny, i) for i in range(jobs)]
            total = sum(f.result() for f in futures)
            assert total == jobs * (jobs + 1) // 2
            print("jobs_per_sec", jobs / (time.perf_counter() - start))
        else:
            n = int(sys.argv[4])
            futures = [pool.submit(fib, n) for _ in range(jobs)]
            for f in futures:
                f.result()
            print("seconds", time.perf_counter() - start)


if __name__ == "__main__":
    main()
