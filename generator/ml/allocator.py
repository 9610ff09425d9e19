"""glibc's allocator told to keep large freed blocks for reuse, in a process that samples.

By default glibc serves an allocation above a threshold (128 KiB, growing as such blocks are freed,
at most 32 MiB) with its own mapping, unmapped again on free, and gives the top of its heap back
to the kernel once more than twice that lies free there. A decoding step allocates and frees
tensors of rows x vocabulary floats (24 MB at 256 rows of a trimmed vocabulary), so each of them
is faulted in page by page on every step. Keeping them in the heap changes no result, only where
the memory comes from; the process holds on to what it freed, up to RETAINED_BYTES.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import platform

log = logging.getLogger(__name__)

# mallopt's parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Blocks up to this size come from the heap; a sampler's largest per-step tensors are far smaller.
HEAP_BLOCK_BYTES = 256 << 20
# Free memory at the top of the heap the process keeps rather than gives back.
RETAINED_BYTES = 1 << 30


@functools.cache
def keep_freed_blocks() -> bool:
    """Apply the thresholds above once per process; False (and nothing changed) where the C
    library is not glibc."""
    if platform.libc_ver()[0] != "glibc":
        log.debug("not glibc: the allocator keeps its own thresholds")
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    applied = bool(
        libc.mallopt(M_MMAP_THRESHOLD, HEAP_BLOCK_BYTES)
        and libc.mallopt(M_TRIM_THRESHOLD, RETAINED_BYTES)
    )
    if not applied:
        log.warning("glibc refused the allocator thresholds: sampling steps fault their pages in")
    return applied
