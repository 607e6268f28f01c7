/* llistxattr()/lgetxattr() answered by the JS host from the virtual source tree (NodeMeta.xattrs),
 * so that mke2fs -d and mkfs.btrfs --rootdir copy extended attributes as they do natively
 * (systemd-repart >= 258 puts user.validatefs.* on the root directory this way). Node has no
 * xattr API: paths outside the tree have none. The JS side (wasm/glue/xattr.js) returns the
 * byte count or -errno, with the kernel's conventions: size 0 asks for the size, a too small
 * buffer is ERANGE, a missing name is ENODATA. */
#include <errno.h>
#include <stddef.h>
#include <sys/types.h>

extern long repart_xattr_list(const char *path, char *list, size_t size);
extern long repart_xattr_get(const char *path, const char *name, void *value, size_t size);

ssize_t llistxattr(const char *path, char *list, size_t size)
{
	long r = repart_xattr_list(path, list, size);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size)
{
	long r = repart_xattr_get(path, name, value, size);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}
