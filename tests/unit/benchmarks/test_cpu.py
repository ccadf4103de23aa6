"""benchmarks/cpu.py: a server tree's page faults per request, from /proc."""

import subprocess
import sys

from benchmarks.cpu import CpuMeter

# A child process (the tree's second level) that maps and touches 64 MiB when told to.
_PARENT = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", '''
import mmap, sys
print("up", flush=True)
sys.stdin.readline()
m = mmap.mmap(-1, 64 << 20)
for i in range(0, 64 << 20, 4096):
    m[i] = 1
print("done", flush=True)
sys.stdin.readline()
'''], stdin=sys.stdin, stdout=sys.stdout)
child.wait()
"""


def test_the_pages_a_child_touches_count_per_request():
    proc = subprocess.Popen([sys.executable, "-c", _PARENT], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "up"
        meter = CpuMeter([proc.pid]).start()
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "done"
        out = meter.stop(requests=4)
        assert out["processes"] == 2
        # 16,384 pages of 4 KiB touched, over 4 requests (transparent huge pages would
        # fault fewer: an anonymous shared mapping does not get them).
        assert 4_096 <= out["minor_faults_per_request"] < 4_096 + 1_000
    finally:
        proc.stdin.close()  # the child's readline ends
        proc.kill()
        proc.wait()
