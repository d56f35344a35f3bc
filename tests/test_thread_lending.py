"""ThreadChoice: a lone context borrows the idle cores only while that is faster (socialsim.llm.thread_lending)."""

from socialsim.llm.thread_lending import ThreadChoice


def run(choice: ThreadChoice, passes: int, seconds: dict[int, float]) -> list[int]:
    """Let ``choice`` pick ``passes`` times, each pass taking ``seconds[count]``; the counts it used."""
    used = []
    for _ in range(passes):
        count = choice.pick()
        choice.record(count, seconds[count])
        used.append(count)
    return used


def test_it_tries_both_counts_then_keeps_the_faster_and_retries_the_other_ever_more_rarely():
    choice = ThreadChoice((1, 2), explore=10)
    used = run(choice, 302, {1: 0.010, 2: 0.006})  # an idle machine: two threads are faster
    assert used[:2] == [1, 2]
    retries = [i for i, count in enumerate(used[2:]) if count == 1]
    assert len(retries) == 4 and retries[0] == 10  # after 10 passes, then 20, 40, 80 more
    assert [b - a for a, b in zip(retries, retries[1:], strict=False)] == [20, 40, 80]


def test_when_other_processes_take_the_cores_it_falls_back_to_one_thread_and_returns_later():
    choice = ThreadChoice((1, 2), explore=10)
    run(choice, 50, {1: 0.010, 2: 0.006})
    loaded = run(choice, 50, {1: 0.012, 2: 0.050})  # two-thread passes collapse: their threads spin-wait
    assert loaded[0] == 2 and loaded[1] == 1  # one slow pass is enough to notice
    assert loaded.count(2) <= 3  # then only the retries, ever more rarely
    idle_again = run(choice, 100, {1: 0.010, 2: 0.006})
    assert idle_again.index(2) <= 30 and idle_again[30:].count(1) <= 3  # a retry saw two threads pay again
