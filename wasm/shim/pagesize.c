/* Link with -Wl,--wrap=sysconf (mke2fs). In WebAssembly sysconf(_SC_PAGESIZE)
 * is 64 KiB (the wasm memory page). mke2fs rounds a size it reads from the
 * device down to whole pages (misc/mke2fs.c, PRS(): fs_blocks_count &=
 * ~(page / blocksize - 1)), so a partition of 12539 4 KiB blocks became a file
 * system of 12528 blocks, where native mke2fs on x86-64/arm64 (4 KiB pages)
 * uses all 12539. Report Linux's 4 KiB, as libc_missing.c does for mkfs.btrfs
 * (kept apart so mke2fs links only this). */
#include <unistd.h>
long __real_sysconf(int name);
long __wrap_sysconf(int name)
{
	if (name == _SC_PAGESIZE)
		return 4096;
	return __real_sysconf(name);
}
