"""Progress bars (tqdm) of render, evaluate, train and build-engine: a rate and an ETA on a terminal,
nothing at all when the output is not a terminal."""
from __future__ import annotations

import io

from mimicam.tools.train_generator import Progress
from mimicam.tools.build_engine import ProgressPrinter
from mimicam.tools.progress import bar


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_draws_eta_on_a_terminal_and_nothing_in_a_pipe():
    for stream, drawn in ((io.StringIO(), False), (Tty(), True)):
        with bar(10, "render", "frame", file=stream, mininterval=0) as b:
            for _ in range(4):
                b.update(1)
        text = stream.getvalue()
        assert ("render" in text and "4/10" in text and "<" in text and "frame/s" in text) == drawn, text
        assert bool(text) == drawn


def test_trt_build_phases_become_bars():
    for stream, drawn in ((io.StringIO(), False), (Tty(), True)):
        p = ProgressPrinter(stream)
        p("start", "Building engine", 0, 8)
        p("start", "Tactic search", 0, 3)  # nested
        p("step", "Tactic search", 2, 3)
        p("finish", "Tactic search", 3, 3)
        p("step", "Building engine", 5, 8)
        p("finish", "Building engine", 8, 8)
        p("step", "not started", 1, 1)  # ignored
        p.close()
        text = stream.getvalue()
        assert ("Tactic search" in text and "Building engine" in text) == drawn and bool(text) == drawn, text


def test_train_progress_shows_loss_and_eta():
    for stream, drawn in ((io.StringIO(), False), (Tty(), True)):
        p = Progress(20, 5, stream=stream)
        p._bar.mininterval = 0
        for step in range(6, 10):
            p.update(step, 0.5)
        p.write(lambda line: None, "step 9: l1 0.1")
        p.close()
        text = stream.getvalue()
        assert ("loss 0.5000" in text and "9/20" in text) == drawn and bool(text) == drawn, text
