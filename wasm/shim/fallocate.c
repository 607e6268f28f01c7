/* emscripten 3.1.6's libc has posix_fallocate() but no fallocate(), so e2fsprogs' configure
 * finds none and mke2fs can neither discard (punch) a regular file nor zero ranges cheaply:
 * it then writes zeros instead, skips "discard zeroes data" and so sets different group
 * descriptor flags (ITABLE_ZEROED) and s_kbytes_written than native mke2fs. The syscall
 * itself exists; with lib64.js passing `mode` on, the JS host implements PUNCH_HOLE and
 * ZERO_RANGE on the partition window, and native behaviour follows. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
long __syscall_fallocate(long fd, long mode, long off_low, long off_high, long len_low, long len_high);
int fallocate(int fd, int mode, off_t offset, off_t len)
{
	uint64_t o = (uint64_t)offset, l = (uint64_t)len;
	long r = __syscall_fallocate(fd, mode, (long)(o & 0xffffffffu), (long)(o >> 32),
				     (long)(l & 0xffffffffu), (long)(l >> 32));
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return 0;
}
