#define _GNU_SOURCE
/* libc behaviour the read-only file system tools need under emscripten 3.1.6.
 * Link with -Wl,--wrap=sysconf -Wl,--wrap=getpagesize. */
#include <unistd.h>

/* wasm's "page" is 64 KiB; mkfs.erofs takes its default block size from getpagesize()
 * (capped at 4 KiB, so harmless there), and both tools size buffers from it. Report what a
 * Linux x86-64/arm64 host reports. */
long __real_sysconf(int name);
long __wrap_sysconf(int name)
{
	if (name == _SC_PAGESIZE)
		return 4096;
	/* One processor: every tool thread is a fiber on the one wasm thread (gthread.h), so more
	 * "processors" would only add fibers. mksquashfs and mkfs.erofs write the same image for
	 * any processor count (they order output by sequence number). */
	/* 2 GiB (the wasm32 limit) in 4 KiB pages: mksquashfs sizes its caches from it. */
	if (name == _SC_PHYS_PAGES)
		return 524288;
	if (name == _SC_NPROCESSORS_ONLN || name == _SC_NPROCESSORS_CONF)
		return 1;
	return __real_sysconf(name);
}

int __real_getpagesize(void);
int __wrap_getpagesize(void) { return 4096; }

/* getrandom(): declared by emscripten 3.1.6 but not implemented. mkfs.erofs (built without
 * libuuid, as it only needs one for a UUID that -U does not give) generates UUIDs with it. */
#include <errno.h>
#include <stddef.h>
#include <sys/types.h>
int getentropy(void *buf, size_t len);
ssize_t getrandom(void *buf, size_t len, unsigned flags)
{
	size_t done = 0;

	(void)flags;
	while (done < len) {
		size_t n = len - done > 256 ? 256 : len - done;
		if (getentropy((char *)buf + done, n))
			return -1;
		done += n;
	}
	return (ssize_t)len;
}

/* mksquashfs (with __linux__) asks sched_getaffinity() for the processor count and falls back
 * to sysconf() when it fails; and sysinfo() for the memory size when sysconf() cannot tell. */
#include <sched.h>
#include <string.h>
#include <sys/sysinfo.h>
int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set)
{
	(void)pid; (void)size; (void)set;
	errno = ENOSYS;
	return -1;
}
int __sched_cpucount(size_t size, const cpu_set_t *set)
{
	size_t i;
	int n = 0;
	for (i = 0; i < size; i++)
		n += __builtin_popcount(((const unsigned char *)set)[i]);
	return n;
}
int sysinfo(struct sysinfo *info)
{
	memset(info, 0, sizeof(*info));
	info->uptime = 1;
	info->totalram = 2048UL * 1024 * 1024;
	info->freeram = info->totalram;
	info->mem_unit = 1;
	info->procs = 1;
	return 0;
}

/* emscripten 3.1.6's stat syscalls fill struct stat field by field and leave the alignment
 * padding before st_size (and the high half of st_blocks) as they were. mksquashfs finds hard
 * links by memcmp() of whole stat buffers, so stack garbage there splits every hard link into
 * copies. The kernel always writes the whole struct; zero it first, as that gives.
 * Link with -Wl,--wrap=stat,--wrap=lstat,--wrap=fstat,--wrap=fstatat. */
#include <sys/stat.h>
int __real_stat(const char *restrict path, struct stat *restrict st);
int __real_lstat(const char *restrict path, struct stat *restrict st);
int __real_fstat(int fd, struct stat *st);
int __real_fstatat(int dirfd, const char *restrict path, struct stat *restrict st, int flags);
int __wrap_stat(const char *restrict path, struct stat *restrict st)
{
	memset(st, 0, sizeof(*st));
	return __real_stat(path, st);
}
int __wrap_lstat(const char *restrict path, struct stat *restrict st)
{
	memset(st, 0, sizeof(*st));
	return __real_lstat(path, st);
}
int __wrap_fstat(int fd, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	return __real_fstat(fd, st);
}
int __wrap_fstatat(int dirfd, const char *restrict path, struct stat *restrict st, int flags)
{
	memset(st, 0, sizeof(*st));
	return __real_fstatat(dirfd, path, st, flags);
}
