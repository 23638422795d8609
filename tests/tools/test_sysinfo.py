"""Machine description and the resource sampler, on this machine."""
import time

import numpy as np
import psutil

from mimicam.tools.sysinfo import ResourceSampler, gpus, machine_info


def test_machine_info_fields():
    m = machine_info()
    assert m["cpu_model"] and m["cpu_cores_logical"] == psutil.cpu_count()
    assert m["versions"]["numpy"] == np.__version__ and m["versions"]["python"].startswith("3.")
    assert isinstance(m["gpus"], list) and m["gpus"] == gpus()


def test_sampler_sees_this_process_busy():
    with ResourceSampler(interval_s=0.05) as s:
        t = time.perf_counter()
        while time.perf_counter() - t < 0.4:
            pass
    r = s.summary()
    assert r["samples"] >= 3
    assert r["process_cpu_percent"]["max"] > 20 and r["process_rss_mib"]["mean"] > 10
    assert r["other_cpu_cores"]["mean"] >= 0
    assert r["warning"] is None or "other processes used" in r["warning"]
