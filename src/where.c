/* SPDX-License-Identifier: MIT */
/*
 * where.c - where a node sits in the registry's tree, known from the
 * daemon's own state (docs/design.md, rule 7): every inode records the
 * position it was looked up, created or renamed to through the mount, as
 * a classification of its parent's position and its name. No path string
 * is ever compared, so renaming the backing directory or an ancestor while
 * mounted changes nothing, and /proc's view of a descriptor (its first
 * name, a "(deleted)" suffix) is never consulted.
 *
 * Directories cannot be hard-linked, and rule 1 refuses every directory
 * rename that touches the tree, so a directory's position is fixed for as
 * long as the daemon holds it. Files keep the position of their last
 * rename through the mount; a file found under a second name keeps the
 * weightier position (inode.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "fs.h"

void tlk_proc_fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

void tlk_where_of(struct tlk_fs *fs, struct tlk_inode *inode,
		  struct tlk_node *out)
{
	dev_t pdev;
	ino_t pino;

	if (inode == &fs->root) {
		tlk_layout_root(out);
		return;
	}
	tlk_inode_where(&fs->inodes, inode, out, &pdev, &pino);
}

void tlk_where_child(struct tlk_fs *fs, struct tlk_inode *parent,
		     const char *name, struct tlk_node *out)
{
	struct tlk_node dir;

	tlk_where_of(fs, parent, &dir);
	tlk_layout_child(&dir, name, out);
}

int tlk_where_dir_fd(struct tlk_fs *fs, struct tlk_inode *inode)
{
	struct tlk_node node;
	dev_t pdev;
	ino_t pino;
	int fd;

	if (inode == &fs->root)
		return -EINVAL;
	tlk_inode_where(&fs->inodes, inode, &node, &pdev, &pino);
	if (pdev == fs->root.dev && pino == fs->root.ino) {
		fd = fcntl(fs->root.fd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	fd = tlk_inode_dir_fd(&fs->inodes, inode); /* by handle: rule 7 */
	return fd == -ENOENT ? -ESTALE : fd;
}

void tlk_where_moved(struct tlk_fs *fs, struct tlk_inode *newparent,
		     const char *newname)
{
	struct tlk_node node;
	struct stat st;

	if (fstatat(newparent->fd, newname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	tlk_where_child(fs, newparent, newname, &node);
	tlk_inode_note_moved(&fs->inodes, st.st_dev, st.st_ino, newparent,
			     newname, &node);
}
