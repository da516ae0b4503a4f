"""The engine's first-look demo runs and its printed claims hold."""

import re
import subprocess
import sys


def test_engine_demo_prints_the_tape_and_a_checked_gradient():
    out = subprocess.run([sys.executable, "-m", "minigrad.demo"], capture_output=True, text=True, check=True).stdout
    assert "the tape holds 16 nodes" in out
    assert out.count(" tanh ") == 4
    assert "finite differences agree: True" in out
    full = float(re.search(r"backward .*dL/dw = ([-\d.]+)", out).group(1))
    truncated = float(re.search(r"truncated\): dL/dw = ([-\d.]+)", out).group(1))
    assert abs(full - truncated) > 1e-3
