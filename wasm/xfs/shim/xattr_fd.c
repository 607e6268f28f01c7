/* flistxattr()/fgetxattr() for mkfs.xfs' protofile population (mkfs/proto.c copies every
 * regular file's xattrs from the open source file): the fd's path (wasm/xfs/glue/fdpath.js)
 * goes to the path-based calls of wasm/shim/xattr.c, which the host answers from the source
 * tree. A source file is never a symlink there, so l* (no-follow) is what the fd refers to. */
#include <errno.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/xattr.h>

extern long repart_fd_path(int fd, char *buf, size_t size);

ssize_t flistxattr(int fd, char *list, size_t size)
{
	char path[4096];
	long r = repart_fd_path(fd, path, sizeof(path));
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return llistxattr(path, list, size);
}

ssize_t fgetxattr(int fd, const char *name, void *value, size_t size)
{
	char path[4096];
	long r = repart_fd_path(fd, path, sizeof(path));
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return lgetxattr(path, name, value, size);
}
