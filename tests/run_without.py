"""Run the socialsim CLI as if some packages were not installed: ``python run_without.py MOD[,MOD] -- ARGS``.

An import of a blocked module (or of anything below it) raises ModuleNotFoundError, as in an environment without
that extra; every blocked import that was attempted is listed on stderr after ``blocked imports:``.
"""

import atexit
import importlib.abc
import sys


class Blocker(importlib.abc.MetaPathFinder):
    def __init__(self, names: set[str]) -> None:
        self.names, self.attempted = names, []

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            self.attempted.append(fullname)
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


if __name__ == "__main__":
    names, sep, *args = sys.argv[1:]
    assert sep == "--", "usage: run_without.py MOD[,MOD] -- ARGS"
    blocker = Blocker(set(names.split(",")))
    sys.meta_path.insert(0, blocker)
    atexit.register(lambda: print(f"blocked imports: {sorted(set(blocker.attempted))}", file=sys.stderr))
    sys.argv = ["socialsim", *args]
    from socialsim.cli.main import main

    main()
