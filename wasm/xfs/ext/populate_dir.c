// SPDX-License-Identifier: GPL-2.0
/*
 * repart-ts: `mkfs.xfs -p <directory>` for xfsprogs 6.13.0, written for repart-ts from what
 * xfsprogs 7.2.0's directory mode (systemd 262's mkfs.xfs) was observed to write; see
 * wasm/xfs/README.md. Compiled into mkfs/proto.c (patches/trixie-populate-dir.patch includes
 * this file at its end), so it uses proto.c's static helpers. A protofile takes the unchanged
 * 6.13.0 path.
 *
 * What 7.2.0 writes, and so this does:
 *  - the root directory: the source root's mode, owner and xattrs; the clock's times;
 *  - every entry below, depth first in readdir order: the lstat mode (with the sticky, setuid
 *    and setgid bits), owner, the source's mtime with nanoseconds, the clock's atime, ctime and
 *    crtime, and its xattrs (every type, not only regular files);
 *  - a non-directory with more than one link becomes one inode: the first name creates it,
 *    the next ones only add a directory entry (and parent pointer) and count a link;
 *  - sockets become socket inodes (a protofile cannot say them; repart's skips them);
 *  - SOURCE_DATE_EPOCH, if set, is the clock (whole seconds); source mtimes are not clamped.
 */
#include <dirent.h>

/* The clock override in libxfs/util.c (patches/trixie-populate-dir.patch). */
extern bool libxfs_fixed_time;
extern struct timespec64 libxfs_fixed_time_ts;

/* A source path's mtime with nanoseconds: 0, or -errno (wasm/xfs/glue/mtime.js). */
extern int repart_lstat_mtime(const char *path, int64_t *sec, int32_t *nsec);

static void
dir_clock_from_env(void)
{
	const char	*s = getenv("SOURCE_DATE_EPOCH");
	char		*end;
	long long	v;

	if (!s || !*s)
		return;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0) {
		fprintf(stderr, _("%s: ignoring invalid SOURCE_DATE_EPOCH '%s'\n"),
				progname, s);
		return;
	}
	libxfs_fixed_time_ts.tv_sec = v;
	libxfs_fixed_time_ts.tv_nsec = 0;
	libxfs_fixed_time = true;
}

static struct timespec64
dir_source_mtime(
	const char		*path,
	const struct stat	*st)
{
	struct timespec64	ts = {
		.tv_sec		= st->st_mtim.tv_sec,
		.tv_nsec	= st->st_mtim.tv_nsec,
	};
	int64_t			sec;
	int32_t			nsec;

	/* emscripten's stat keeps 32-bit seconds and no nanoseconds: ask the host */
	if (repart_lstat_mtime(path, &sec, &nsec) == 0) {
		ts.tv_sec = sec;
		ts.tv_nsec = nsec;
	}
	return ts;
}

/* Copy one path's xattrs (no symlink following) to an inode, user/trusted/security. */
static void
dir_copy_xattrs(
	struct xfs_inode	*ip,
	const char		*path)
{
	static char		names[XATTR_LIST_MAX];
	static char		value[ATTR_MAX_VALUELEN];
	ssize_t			len, vlen;
	char			*p;
	int			error;

	len = llistxattr(path, names, sizeof(names));
	if (len < 0) {
		if (errno == EOPNOTSUPP || errno == ENOTSUP)
			return;
		fail(_("error collecting xattr names"), errno);
	}
	for (p = names; p < names + len; p += strlen(p) + 1) {
		struct xfs_da_args	args = {
			.dp		= ip,
			.geo		= ip->i_mount->m_attr_geo,
			.owner		= ip->i_ino,
			.whichfork	= XFS_ATTR_FORK,
			.op_flags	= XFS_DA_OP_OKNOENT,
			.value		= value,
		};

		vlen = lgetxattr(path, p, value, sizeof(value));
		if (vlen < 0)
			fail(_("error collecting xattr value"), errno);
		if (vlen == 0)
			continue;
		if (!strncmp(p, XATTR_TRUSTED_PREFIX, XATTR_TRUSTED_PREFIX_LEN)) {
			args.name = (unsigned char *)p + XATTR_TRUSTED_PREFIX_LEN;
			args.attr_filter = LIBXFS_ATTR_ROOT;
		} else if (!strncmp(p, XATTR_SECURITY_PREFIX, XATTR_SECURITY_PREFIX_LEN)) {
			args.name = (unsigned char *)p + XATTR_SECURITY_PREFIX_LEN;
			args.attr_filter = LIBXFS_ATTR_SECURE;
		} else if (!strncmp(p, XATTR_USER_PREFIX, XATTR_USER_PREFIX_LEN)) {
			args.name = (unsigned char *)p + XATTR_USER_PREFIX_LEN;
		} else {
			args.name = (unsigned char *)p;
		}
		args.namelen = strlen((char *)args.name);
		args.valuelen = vlen;
		libxfs_attr_sethash(&args);
		error = -libxfs_attr_set(&args, XFS_ATTRUPDATE_UPSERT, false);
		if (error)
			fail(_("setting xattr value"), error);
	}
}

/* Source inode number -> new inode, for the names of one file (open addressing). */
struct dir_links {
	size_t		cap, used;
	uint64_t	*key;		/* source inode + 1; 0: empty slot */
	xfs_ino_t	*ino;
};
static struct dir_links dir_links;

static size_t
dir_link_slot(uint64_t key)
{
	size_t	i = (size_t)(key * 0x9E3779B97F4A7C15ULL) & (dir_links.cap - 1);

	while (dir_links.key[i] && dir_links.key[i] != key)
		i = (i + 1) & (dir_links.cap - 1);
	return i;
}

static xfs_ino_t
dir_link_find(uint64_t src)
{
	size_t	i;

	if (!dir_links.cap)
		return NULLFSINO;
	i = dir_link_slot(src + 1);
	return dir_links.key[i] ? dir_links.ino[i] : NULLFSINO;
}

static void
dir_link_put(uint64_t key, xfs_ino_t ino)
{
	size_t	i = dir_link_slot(key);

	dir_links.key[i] = key;
	dir_links.ino[i] = ino;
	dir_links.used++;
}

static void
dir_link_add(uint64_t src, xfs_ino_t ino)
{
	struct dir_links	old = dir_links;
	size_t			i;

	if ((dir_links.used + 1) * 2 > dir_links.cap) {
		dir_links.cap = old.cap ? old.cap * 2 : 1024;
		dir_links.used = 0;
		dir_links.key = calloc(dir_links.cap, sizeof(*dir_links.key));
		dir_links.ino = calloc(dir_links.cap, sizeof(*dir_links.ino));
		if (!dir_links.key || !dir_links.ino)
			fail(_("error allocating the hard link table"), ENOMEM);
		for (i = 0; i < old.cap; i++)
			if (old.key[i])
				dir_link_put(old.key[i], old.ino[i]);
		free(old.key);
		free(old.ino);
	}
	dir_link_put(src + 1, ino);
}

/* Another name for an inode made earlier: a directory entry, a parent pointer, a link. */
static void
dir_add_link(
	struct xfs_mount	*mp,
	struct xfs_inode	*pip,
	struct xfs_name		*xname,
	xfs_ino_t		ino)
{
	struct xfs_parent_args	*ppargs;
	struct xfs_trans	*tp;
	struct xfs_inode	*ip;
	int			error;

	error = -libxfs_iget(mp, NULL, ino, 0, &ip);
	if (error)
		fail(_("could not read back a hard-linked inode"), error);
	tp = getres(mp, 0);
	ppargs = newpptr(mp);
	libxfs_trans_ijoin(tp, pip, 0);
	libxfs_trans_ijoin(tp, ip, 0);
	newdirent(mp, tp, pip, xname, ip, ppargs);
	libxfs_bumplink(tp, ip);
	libxfs_trans_log_inode(tp, ip, XFS_ILOG_CORE);
	error = -libxfs_trans_commit(tp);
	if (error)
		fail(_("Error encountered creating a hard link"), error);
	libxfs_parent_finish(mp, ppargs);
	libxfs_irele(ip);
}

static unsigned char
dir_ftype(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:	return XFS_DIR3_FT_REG_FILE;
	case S_IFDIR:	return XFS_DIR3_FT_DIR;
	case S_IFLNK:	return XFS_DIR3_FT_SYMLINK;
	case S_IFCHR:	return XFS_DIR3_FT_CHRDEV;
	case S_IFBLK:	return XFS_DIR3_FT_BLKDEV;
	case S_IFIFO:	return XFS_DIR3_FT_FIFO;
	case S_IFSOCK:	return XFS_DIR3_FT_SOCK;
	default:	return XFS_DIR3_FT_UNKNOWN;
	}
}

static void dir_walk(struct xfs_mount *mp, struct xfs_inode *dp,
		struct fsxattr *fsxp, char *path);

/* One directory entry of the source: its inode (or one more link to it), then its content. */
static void
dir_entry(
	struct xfs_mount	*mp,
	struct xfs_inode	*pip,
	struct fsxattr		*fsxp,
	char			*path,
	const char		*name)
{
	static char		target[PATH_MAX];
	size_t			plen = strlen(path);
	struct stat		st;
	struct cred		creds;
	struct xfs_name		xname;
	struct xfs_parent_args	*ppargs = NULL;
	struct xfs_trans	*tp;
	struct xfs_inode	*ip;
	xfs_dev_t		rdev = 0;
	ssize_t			tlen = 0;
	int			fd = -1;
	int			error;

	if (plen + 1 + strlen(name) >= PATH_MAX)
		fail(_("path name too long"), ENAMETOOLONG);
	sprintf(path + plen, "/%s", name);
	if (lstat(path, &st) < 0) {
		fprintf(stderr, _("%s: cannot stat %s: %s\n"), progname, path,
				strerror(errno));
		exit(1);
	}
	xname.name = (unsigned char *)name;
	xname.len = strlen(name);
	xname.type = dir_ftype(st.st_mode);
	if (xname.type == XFS_DIR3_FT_UNKNOWN)
		goto out;

	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
		xfs_ino_t	ino = dir_link_find(st.st_ino);

		if (ino != NULLFSINO) {
			dir_add_link(mp, pip, &xname, ino);
			goto out;
		}
	}

	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		fd = open(path, O_RDONLY);
		if (fd < 0) {
			fprintf(stderr, _("%s: cannot open %s: %s\n"), progname,
					path, strerror(errno));
			exit(1);
		}
		break;
	case S_IFLNK:
		tlen = readlink(path, target, sizeof(target) - 1);
		if (tlen < 0)
			fail(_("could not read symlink"), errno);
		if (tlen >= (ssize_t)sizeof(target) - 1)
			fail(_("symlink target too long"), ENAMETOOLONG);
		target[tlen] = '\0';
		break;
	case S_IFCHR:
	case S_IFBLK:
		rdev = IRIX_MKDEV(major(st.st_rdev), minor(st.st_rdev));
		break;
	}

	creds.cr_uid = st.st_uid;
	creds.cr_gid = st.st_gid;
	tp = getres(mp, S_ISLNK(st.st_mode) ? XFS_B_TO_FSB(mp, tlen) : 0);
	ppargs = newpptr(mp);
	error = creatproto(&tp, pip, st.st_mode & (S_IFMT | 07777), rdev,
			&creds, fsxp, &ip);
	if (error)
		fail(_("Inode allocation failed"), error);
	if (S_ISLNK(st.st_mode))
		writesymlink(tp, ip, target, tlen);
	libxfs_trans_ijoin(tp, pip, 0);
	newdirent(mp, tp, pip, &xname, ip, ppargs);
	if (S_ISDIR(st.st_mode)) {
		libxfs_bumplink(tp, pip);
		libxfs_trans_log_inode(tp, pip, XFS_ILOG_CORE);
		newdirectory(mp, tp, ip, pip);
	}
	inode_set_mtime_to_ts(VFS_I(ip), dir_source_mtime(path, &st));
	libxfs_trans_log_inode(tp, ip, XFS_ILOG_CORE |
			(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? XFS_ILOG_DEV : 0));
	error = -libxfs_trans_commit(tp);
	if (error)
		fail(_("Error encountered creating file from directory"), error);
	libxfs_parent_finish(mp, ppargs);

	if (fd >= 0) {
		writefile(ip, path, fd);
		close(fd);
	}
	dir_copy_xattrs(ip, path);
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
		dir_link_add(st.st_ino, ip->i_ino);
	if (S_ISDIR(st.st_mode))
		dir_walk(mp, ip, fsxp, path);
	libxfs_irele(ip);
out:
	path[plen] = '\0';
}

static void
dir_walk(
	struct xfs_mount	*mp,
	struct xfs_inode	*dp,
	struct fsxattr		*fsxp,
	char			*path)
{
	DIR		*dir = opendir(path);
	struct dirent	*de;

	if (!dir) {
		fprintf(stderr, _("%s: cannot open directory %s: %s\n"),
				progname, path, strerror(errno));
		exit(1);
	}
	while ((de = readdir(dir)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		dir_entry(mp, dp, fsxp, path, de->d_name);
	}
	closedir(dir);
}

/* The root inode from the source root, then the tree below it. */
static void
populate_from_dir(
	struct xfs_mount	*mp,
	struct fsxattr		*fsxp,
	const char		*source)
{
	static char		path[PATH_MAX];
	struct stat		st;
	struct cred		creds;
	struct xfs_trans	*tp;
	struct xfs_inode	*ip;
	size_t			len;
	int			error;

	dir_clock_from_env();
	if (strlen(source) >= sizeof(path))
		fail(_("path name too long"), ENAMETOOLONG);
	strcpy(path, source);
	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		fail(_("cannot read the source directory"), errno ? errno : ENOTDIR);

	creds.cr_uid = st.st_uid;
	creds.cr_gid = st.st_gid;
	tp = getres(mp, 0);
	error = creatproto(&tp, NULL, S_IFDIR | (st.st_mode & 07777), 0,
			&creds, fsxp, &ip);
	if (error)
		fail(_("Inode allocation failed"), error);
	mp->m_sb.sb_rootino = ip->i_ino;
	libxfs_log_sb(tp);
	newdirectory(mp, tp, ip, ip);
	libxfs_trans_log_inode(tp, ip, XFS_ILOG_CORE);
	error = -libxfs_trans_commit(tp);
	if (error)
		fail(_("Directory inode allocation failed."), error);

	/* as for a protofile: the realtime inodes come right after the root */
	error = create_metadir(mp);
	if (error)
		fail(_("Creation of the metadata directory inode failed"), error);
	rtinit(mp);

	dir_copy_xattrs(ip, path);
	dir_walk(mp, ip, fsxp, path);
	libxfs_irele(ip);
	free(dir_links.key);
	free(dir_links.ino);
	memset(&dir_links, 0, sizeof(dir_links));
}
