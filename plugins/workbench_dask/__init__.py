"""The ``dask`` executor: cells on a Dask cluster (a local one, a running scheduler, or an HPC
batch system through dask-jobqueue). Install with ``pip install 'deml-workbench[dask]'``."""
