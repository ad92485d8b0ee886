"""Settings for benchmark worker processes."""

from __future__ import annotations


def one_thread() -> None:
    """Each worker computes on one core, as Dask's workers do in benchmarks.discovery: torch's and BLAS's own
    thread pools on a machine whose cores the other workers already hold only wait on each other (measured:
    the refit of ODEBench 25 took 242 s with two torch threads per worker beside another worker, 101 s with one,
    same result)."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)
