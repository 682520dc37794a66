"""Run a benchmarked server counting the function calls its event-loop thread makes. Benchmarks only.

    python bench/call_count.py OUT telepractice          # telepractice serve
    python bench/call_count.py OUT bench/bare_relay.py PORT

The first SIGUSR1 starts counting; the next stops it and writes ``OUT.<n>``: one
line per function, calls then where it lives then its name, most called first.
A count of calls does not depend on how busy the machine is, so it compares
two servers' work per message where CPU time is too noisy to (bench/README.md).
The counting itself slows the server several times over: only counts taken
this way are figures, never its timings.
"""

from __future__ import annotations

import collections
import runpy
import signal
import sys
from types import FrameType
from typing import Any

counts: collections.Counter[tuple[str, str]] = collections.Counter()
state = {"on": False, "stops": 0}


def count(frame: FrameType, event: str, arg: Any) -> None:
    if event == "call":
        code = frame.f_code
        counts["/".join(code.co_filename.split("/")[-2:]), code.co_qualname] += 1
    elif event == "c_call":
        counts["C", getattr(arg, "__qualname__", repr(arg))] += 1


def toggle(out: str) -> None:
    if not state["on"]:
        counts.clear()
        state["on"] = True
        sys.setprofile(count)
        return
    sys.setprofile(None)
    state["on"] = False
    state["stops"] += 1
    with open(f"{out}.{state['stops']}", "w") as f:
        f.writelines(f"{n}\t{where}\t{name}\n" for (where, name), n in counts.most_common())


def main() -> None:
    out, target, *rest = sys.argv[1:]
    signal.signal(signal.SIGUSR1, lambda _signal, _frame: toggle(out))
    if target == "telepractice":
        sys.argv = ["telepractice", "serve"]
        runpy.run_module("telepractice", run_name="__main__")
    else:
        sys.argv = [target, *rest]
        runpy.run_path(target, run_name="__main__")


if __name__ == "__main__":
    main()
