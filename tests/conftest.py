"""Settings for the whole test session.

``make test`` runs one pytest-xdist worker per core, a test file at a time (``--dist loadfile``).

- Threads: torch, OpenBLAS and OpenMP would each start a thread per core in every worker as well. On the CI's two
  cores the oversubscribed threads measured 10 % slower (four test files, 189 s against 170 s), so each worker (and
  each CLI it starts) computes on one thread unless the environment says otherwise.
- Order: a worker takes the next file when it is free, so a long file started last keeps one worker busy while the
  other idles. The files that took 70 s or more (``LONG_FILES``, slowest first; session 39, ``--durations=0``, 1,212 s
  of tests in all) start first and the rest follow in their usual order; ``--no-loadscope-reorder`` (pytest-xdist
  3.8) keeps this order, where xdist's own puts the files with the most tests first. Replaying that run's durations
  through xdist's rule for two workers: 608 s against 640 s. A file missing from the list only runs later.
"""

import os

import pytest

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

LONG_FILES = ("test_cli.py", "test_observables.py", "test_readme.py", "test_agent.py", "test_symbolic.py",
              "test_unwritten_laws.py", "test_twins.py", "test_trajectory_refit.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: index for index, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))  # stable: the rest keep their order
