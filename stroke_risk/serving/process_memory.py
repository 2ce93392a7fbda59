"""Give a large batch's memory back to the operating system once it is answered.

glibc serves big blocks with their own memory maps, but each time one is freed it raises
that threshold (up to 32 MB), so the next 10,000-patient batch's multi-megabyte buffers
come from the heap instead and stay with the worker after the reply. Measured with two
workers (bench/README.md): all service processes grew from 343 to 416 MB over six such
batches; with the threshold fixed, to 346 MB, at the same speed. Setting the threshold
explicitly is what turns glibc's adjustment off (the same as `MALLOC_MMAP_THRESHOLD_`,
which would depend on whoever starts the process remembering it).
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
GLIBC_DEFAULT_THRESHOLD = 128 * 1024


def map_large_blocks_separately(threshold: int = GLIBC_DEFAULT_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold; False where the C library is not glibc (nothing done)."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return mallopt(M_MMAP_THRESHOLD, threshold) == 1
