"""A process that samples reuses the large blocks a decoding step frees instead of faulting
fresh pages in for them on every step (generator.ml.allocator)."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from tests.settings_process import ROOT

MEASURE = """
import resource, sys, torch
from generator.ml.sampling import Sampler

def faults():
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        torch.ones(12 << 20)  # 48 MB of float32: above glibc's largest default threshold
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start

before = faults()
Sampler(sys.argv[1], device="cpu")
faults()  # the heap grows to hold the block once
print(before, faults())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's")
def test_a_sampler_process_reuses_freed_blocks(trained_checkpoint: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(trained_checkpoint)],
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    before, after = (int(count) for count in done.stdout.split())
    assert before >= 10, "each 48 MB block is a new mapping by default"
    assert after * 10 <= before
