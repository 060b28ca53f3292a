/* SPDX-License-Identifier: MIT */
/*
 * scan.c - the one scan enforcement needs: does a protected tag of a
 * repository point to a given manifest (docs/design.md, contract rule 5)?
 *
 * Fail closed (rule 5): any error while looking (EMFILE, EACCES, EIO, a
 * short read) is returned as an error, never as "no". A tag directory
 * without current/link (a push in progress, a half-deleted tag) points
 * nowhere; that absence is the only error taken as an answer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"

/* Does the tag `name` in `tagsfd` point to `want`? 1, 0 or -errno. */
static int tag_points_to(struct tlk_fs *fs, int tagsfd, const char *name,
			 const struct tlk_node *tags,
			 const struct tlk_link *want)
{
	char path[NAME_MAX + 16];
	struct tlk_node tag;
	struct tlk_link cur;
	bool prot = false;
	int ret;

	tlk_layout_child(tags, name, &tag);
	if (tag.kind != TLK_TAG_DIR)
		return 0;
	tlk_facts_policy(fs, &tag, NULL, &prot, NULL);
	if (!prot)
		return 0;
	snprintf(path, sizeof(path), "%s/current/link", name);
	ret = tlk_link_read(tagsfd, path, &cur, NULL, 0, NULL);
	if (ret == -ENOENT || ret == -ENOTDIR)
		return 0;
	if (ret < 0)
		return ret;
	return tlk_link_same(&cur, want) ? 1 : 0;
}

int tlk_scan_revision_in_use(struct tlk_fs *fs, int revdir,
			     const struct tlk_node *rev)
{
	const char *up = tlk_layout_revision_to_tags(TLK_REV_DIG);
	struct tlk_node tags = *rev;
	char digest[TLK_LINK_LEN + 1];
	struct tlk_link want;
	struct dirent *de;
	int ret;
	DIR *d;

	snprintf(digest, sizeof(digest), "sha256:%s", rev->hex);
	tlk_link_parse(digest, TLK_LINK_LEN, &want);
	tags.kind = TLK_TAGS;
	tags.tag[0] = '\0';
	ret = tlk_dir_open(revdir, up, &d);
	if (ret < 0)
		return ret == -ENOENT ? 0 : ret;
	while ((ret = tlk_dir_next(d, &de)) > 0) {
		ret = tag_points_to(fs, dirfd(d), de->d_name, &tags, &want);
		if (ret != 0)
			break;
	}
	closedir(d);
	return ret;
}
