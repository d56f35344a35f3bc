"""Lending idle cores to a lone context of the batch engine, and checking that it pays.

With ``llm.parallel`` contexts of one thread each (the default on two cores), a lone dialogue's calls come one
after another and leave a core idle, so the first context may decode on every thread while the others are idle.
Two limits, both measured (BENCHMARKS.md):

- libgomp (llama.cpp's OpenMP) counts the worker threads of every team in the process, and once they outnumber
  the cores it throttles its spin-waits for good, which halves the speed of every multi-threaded pass. So only
  the first context ever borrows, and only where the others run one thread each (they lead no team).
- The threads of one pass spin-wait for each other; while other processes hold the cores, a pass over several
  threads can be several times slower than one on a single thread. :class:`ThreadChoice` times the passes and
  keeps the faster count.
"""


class ThreadChoice:
    """Picks between two thread counts by the time of one-token passes: an exponential average for the count in
    use, the latest reading for the other, which is tried again after ``explore`` passes, then after twice as many
    each time it is still slower (a try on a loaded machine can cost a pass several times as long), and sooner
    again once the choice changes."""

    def __init__(self, counts: tuple[int, int], explore: int = 50, longest: int = 1600, weight: float = 0.25) -> None:
        self.counts = counts
        self.explore, self.longest, self.weight = explore, longest, weight
        self.seconds: dict[int, float | None] = dict.fromkeys(counts)
        self._best = counts[0]
        self._picks = 0
        self._gap = self._next = explore

    def pick(self) -> int:
        timed = {c: t for c, t in self.seconds.items() if t is not None}
        if len(timed) < len(self.counts):
            return next(c for c in self.counts if c not in timed)
        self._picks += 1
        best = min(timed, key=timed.__getitem__)
        if best != self._best:
            self._best, self._gap, self._next = best, self.explore, self._picks + self.explore
        if self._picks < self._next:
            return best
        self._gap = min(2 * self._gap, self.longest)
        self._next = self._picks + self._gap
        return next(c for c in self.counts if c != best)

    def record(self, count: int, seconds: float) -> None:
        old = self.seconds[count]
        if old is None or count != self._best:
            self.seconds[count] = seconds
        else:
            self.seconds[count] = (1 - self.weight) * old + self.weight * seconds
