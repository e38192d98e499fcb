"""Where a service spends its time: py-spy samples it during a run, and this sums the samples.

`python -m bench.throughput --py-spy intake.txt` records intake while the feed goes through;
`python -m bench.profile intake.txt` prints the top functions of such a file again. The file is
py-spy's raw (collapsed-stack) format: one line per distinct stack, `frame;frame;...;frame count`,
outermost first. Idle samples are left out by py-spy, so shares are of the time the process was busy.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_LINE_NUMBER = re.compile(r":\d+\)$")


def py_spy_binary() -> str | None:
    beside_python = Path(sys.executable).with_name("py-spy")
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


def start_recording(pid: int, out: Path, seconds: int, *, rate: int = 100, gil: bool = False) -> subprocess.Popen[bytes]:
    """py-spy on `pid` for `seconds`; with `gil`, only samples that hold the GIL (Python's own CPU time).

    Without it a sample counts as busy whenever the thread is runnable, and on a saturated machine a
    runnable thread is often waiting for a core: socket writes that wake the database then look dear.
    """
    binary = py_spy_binary()
    if binary is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    return subprocess.Popen(
        [
            binary,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--output",
            str(out),
            "--duration",
            str(seconds),
            "--rate",
            str(rate),
            "--nonblocking",
            *(["--gil"] if gil else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _function(frame: str) -> str:
    """`apply (services/intake/handlers.py:88)` -> `apply (services/intake/handlers.py)`: one entry per function."""
    return _LINE_NUMBER.sub(")", frame.strip())


def _short(frame: str) -> str:
    # Site-packages paths are long and say nothing beyond the package.
    return re.sub(r"\(.*?(?:site-packages|lib/python3\.\d+)/", "(", frame)


@dataclass(frozen=True)
class ProfileSummary:
    samples: int
    self_time: list[tuple[str, int]]
    inclusive: list[tuple[str, int]]
    by_file: list[tuple[str, int]]

    def lines(self, top: int = 10) -> list[str]:
        out = [f"{self.samples} busy samples", "", f"top {top} by own time (the frame that was running):"]
        out += [f"  {count / self.samples:6.1%}  {_short(frame)}" for frame, count in self.self_time[:top]]
        out += ["", f"top {top} of the project's functions by inclusive time (the function or anything it called):"]
        out += [f"  {count / self.samples:6.1%}  {_short(frame)}" for frame, count in self.inclusive[:top]]
        out += ["", f"top {top} source files by own time:"]
        out += [f"  {count / self.samples:6.1%}  {_short('(' + name + ')')[1:-1]}" for name, count in self.by_file[:top]]
        return out


def _is_project_code(frame: str) -> bool:
    """A frame of this repository's code (py-spy names it by a relative path), not of a library."""
    path = frame.rpartition("(")[2]
    return path.startswith(("services/", "shared/", "reko/")) and "__main__" not in path


def summarise(path: Path) -> ProfileSummary:
    own: Counter[str] = Counter()
    files: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(frame) for frame in stack.split(";") if frame.strip()]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        files[frames[-1].rpartition("(")[2].rstrip(")")] += count
        # Inclusive time of the project's own functions only: the event loop, FastStream and
        # fast-depends wrap every call and would fill the list saying nothing.
        for frame in set(frames):
            if _is_project_code(frame):
                inclusive[frame] += count
    return ProfileSummary(samples, own.most_common(), inclusive.most_common(), files.most_common())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Sum a py-spy raw profile by function.")
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=10)
    arguments = parser.parse_args(argv)
    print("\n".join(summarise(arguments.profile).lines(arguments.top)))


if __name__ == "__main__":
    main()
