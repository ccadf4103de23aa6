"""benchmarks/threads.py: a server's CPU by the names Python gives its threads."""

import subprocess
import sys
import time

from benchmarks.threads import ThreadMeter, kind, python_names

# A process with a busy pool of two threads, a busy named thread, one that goes to sleep 200
# times and an idle one.
_SERVER = """
import threading, time
from concurrent.futures import ThreadPoolExecutor

def spin(seconds, then_s=0):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    time.sleep(then_s)  # a thread that ended would take its counters with it

pool = ThreadPoolExecutor(2, thread_name_prefix="store")
threading.Thread(target=time.sleep, args=(60,), name="idle", daemon=True).start()
print("up", flush=True)
input()
jobs = [pool.submit(spin, 0.3) for _ in range(2)]
slept = threading.Event()
threading.Thread(target=lambda: ([time.sleep(0.001) for _ in range(200)], slept.set(),
                                 time.sleep(60)), name="sleeper", daemon=True).start()
threading.Thread(target=spin, args=(0.6, 60), name="review-projector", daemon=True).start()
[job.result() for job in jobs]
slept.wait()
time.sleep(0.7)
print("done", flush=True)
time.sleep(60)
"""


def test_a_pool_s_threads_are_one_kind():
    assert kind("store_0") == "store"
    assert kind("store_12") == "store"
    assert kind("review-projector") == "review-projector"
    assert kind("wal-checkpoint audit.db") == "wal-checkpoint audit.db"


def test_cpu_is_split_by_thread_name_per_request():
    proc = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "up"
        assert "idle" in python_names(proc.pid).values()
        meter = ThreadMeter([proc.pid]).start()
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "done"
        time.sleep(0.05)
        report = meter.stop(requests=100)
        split, switches = report["us_per_request"], report["switches_per_request"]
    finally:
        proc.kill()
        proc.wait()
    # 2 x 0.3 s on the pool's threads, 0.6 s on the named one: ~6,000 µs per request each
    # (ticks of 10 ms, and the spin loop's own overshoot).
    store = split["store"]["user"] + split["store"]["system"]
    projector = split["review-projector"]["user"] + split["review-projector"]["system"]
    assert 5_000 <= store <= 7_500
    assert 5_000 <= projector <= 7_500
    assert split["store"]["threads"] == 2
    assert "idle" not in split  # no CPU, no line
    # Each of the sleeper's 200 sleeps is a voluntary switch: 2 per request, and more for
    # each wake-up that then waits for the GIL behind the spinning threads; the idle thread
    # never woke.
    assert 2.0 <= switches["sleeper"]["voluntary"] <= 20
    assert "idle" not in switches
