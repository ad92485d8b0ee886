"""Settings for the whole test session.

``make test`` runs one pytest-xdist worker per core; torch, OpenBLAS and OpenMP would each start a thread per core
in every worker as well. On the CI's two cores the oversubscribed threads measured 10 % slower (four test files,
189 s against 170 s), so each worker (and each CLI it starts) computes on one thread unless the environment says
otherwise.
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
