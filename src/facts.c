/* SPDX-License-Identifier: MIT */
/*
 * facts.c - gather the facts tlk_decide() needs: the policy in force for a
 * node, what a name is, what a tag points to. Every function answers 0 or
 * -errno and never guesses: an error goes into facts.error, and tlk_decide
 * refuses (docs/design.md, rule 5).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fs.h"

void tlk_facts_policy(struct tlk_fs *fs, const struct tlk_node *node,
		      bool *repo_immutable, bool *tag_protected,
		      bool *protect_delete)
{
	struct tlk_policy_hold hold;

	tlk_live_policy_acquire(fs->policy, &hold);
	if (repo_immutable)
		*repo_immutable = node->repo[0] && tlk_policy_repo_immutable(
						       hold.policy, node->repo);
	if (tag_protected)
		*tag_protected = node->repo[0] && node->tag[0] &&
				 tlk_policy_tag_protected(
				     hold.policy, node->repo, node->tag);
	if (protect_delete)
		*protect_delete =
		    tlk_policy_protect_delete(hold.policy, node->repo);
	tlk_live_policy_release(&hold);
}

static enum tlk_ftype ftype_of(mode_t mode)
{
	if (S_ISREG(mode))
		return TLK_FT_REG;
	if (S_ISDIR(mode))
		return TLK_FT_DIR;
	if (S_ISLNK(mode))
		return TLK_FT_SYMLINK;
	return TLK_FT_SPECIAL;
}

int tlk_facts_type(int dirfd, const char *name, enum tlk_ftype *type,
		   bool *multi_linked)
{
	struct stat st;

	*type = TLK_FT_NONE;
	*multi_linked = false;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	*type = ftype_of(st.st_mode);
	*multi_linked = !S_ISDIR(st.st_mode) && st.st_nlink > 1;
	return 0;
}

int tlk_facts_fd_type(int fd, enum tlk_ftype *type, bool *multi_linked)
{
	struct stat st;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	*type = ftype_of(st.st_mode);
	*multi_linked = !S_ISDIR(st.st_mode) && st.st_nlink > 1;
	return 0;
}

int tlk_dir_open(int dirfd, const char *path, DIR **out)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	int err;

	*out = fd < 0 ? NULL : fdopendir(fd);
	if (*out)
		return 0;
	err = -errno;
	if (fd >= 0)
		close(fd);
	return err;
}

int tlk_dir_next(DIR *d, struct dirent **de)
{
	errno = 0;
	*de = readdir(d);
	if (*de)
		return 1;
	return errno ? -errno : 0;
}

int tlk_facts_tag_current(int dirfd, enum tlk_kind kind, struct tlk_link *out)
{
	const char *up = tlk_layout_up_to_tag_dir(kind);
	int tagfd, ret;

	if (!up)
		return -EINVAL;
	tagfd =
	    openat(dirfd, up, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tagfd < 0)
		return -errno;
	ret = tlk_link_read(tagfd, "current/link", out, NULL, 0, NULL);
	close(tagfd);
	return ret;
}
