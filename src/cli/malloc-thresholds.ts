/**
 * glibc's malloc keeps freed memory a little longer in this process (issue 18: the page faults).
 *
 * A page the process touches for the first time costs a fault, and in the virtual machines this
 * tool is run in (the bench machine: a PVM guest) a fault costs ~15 µs, 40 times the copy of the
 * page. glibc gives memory back to the kernel eagerly: an arena whose free top reaches 128 KiB is
 * trimmed (MADV_DONTNEED), and every block of 128 KiB or more is its own mmap. V8's optimising
 * compiler runs on background threads, each with its own arena, and frees its zones after every
 * job; each new job then faults its memory in again: ~9,700 of the ~26,000 faults of a small-tree
 * build (debian-usr), ~150 ms of CPU on a two-core machine.
 *
 * glibc raises both thresholds itself once it sees a larger mmapped block freed (its dynamic
 * threshold: mmap above the freed block's size, trim above twice that). So one block of 2 MiB is
 * allocated (malloc: mapped, never touched) and dropped here, the first thing the CLI does; the
 * next garbage collection frees it, and from then on up to 4 MiB stay at an arena's top. 2 MiB is
 * the knee (1 MiB removes half the faults, 4 and 8 MiB no more than 2) and costs no peak memory
 * (1M files: 236 → 238 MiB; 8 MiB: 246 MiB). Measured in bench/results/issue-18.md.
 *
 * Only a hint: other allocators (musl, macOS) just free the block; the library API does not do
 * this, as it would change the malloc of a process that is not ours.
 */
const BLOCK = 2 * 2 ** 20 - 8192;

// dropped at once: the next garbage collection frees it
Buffer.allocUnsafeSlow(BLOCK);
