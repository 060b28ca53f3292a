/* SPDX-License-Identifier: MIT */
/*
 * layout.h - classify a node of the registry's storage tree.
 *
 * Pure: no I/O, no FUSE. The tree is the one CNCF distribution's
 * `filesystem` driver writes below its rootdirectory:
 *
 *   docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link
 *   docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/index/sha256/<hex>/link
 *   docker/registry/v2/repositories/<name>/_manifests/revisions/sha256/<hex>/link
 *
 * The mount root is the rootdirectory; `repositories` directly below the
 * root is accepted too, for a mount at docker/registry/v2.
 *
 * A repository name is every component after `repositories/` up to the
 * first one that starts with `_`. Names may contain components called
 * `tags`, `current`, `index` or `link`.
 *
 * Thread safety: all functions are reentrant; a struct tlk_node is a value.
 */
#ifndef TAGLOCKFS_LAYOUT_H
#define TAGLOCKFS_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>

#define TLK_REPO_MAX 256 /* distribution caps names at 255 bytes */
#define TLK_TAG_MAX 128
#define TLK_HEX_LEN 64

enum tlk_kind {
	TLK_OTHER = 0, /* nothing taglockfs cares about */
	TLK_ROOT,      /* the mount root (storage rootdirectory) */
	TLK_DOCKER,    /* docker/ */
	TLK_REGISTRY,  /* docker/registry/ */
	TLK_V2,	       /* docker/registry/v2/ */
	TLK_REPOS,     /* .../v2/repositories/ */
	TLK_REPO_DIR,  /* repositories/<a>[/<b>...]: a repository or a namespace
			*/
	TLK_MANIFESTS, /* <repo>/_manifests/ */
	TLK_TAGS,      /* <repo>/_manifests/tags/ */
	TLK_TAG_DIR,   /* tags/<tag>/ */
	TLK_CURRENT,   /* tags/<tag>/current/ */
	TLK_CURRENT_LINK, /* tags/<tag>/current/link */
	TLK_CURRENT_TMP, /* tags/<tag>/current/link.<id>.tmp (distribution 3.1+)
			  */
	TLK_CURRENT_OTHER,  /* any other name inside current/ */
	TLK_TAG_INDEX,	    /* tags/<tag>/index/ */
	TLK_TAG_INDEX_ALG,  /* tags/<tag>/index/sha256/ */
	TLK_TAG_INDEX_DIG,  /* tags/<tag>/index/sha256/<hex>/ */
	TLK_TAG_INDEX_LINK, /* tags/<tag>/index/sha256/<hex>/link */
	TLK_TAG_INDEX_TMP,  /* any other name in tags/<tag>/index/sha256/<hex>/
			       (link.<id>.tmp) */
	TLK_REVISIONS,	    /* <repo>/_manifests/revisions/ */
	TLK_REV_ALG,	    /* revisions/sha256/ */
	TLK_REV_DIG,	    /* revisions/sha256/<hex>/ */
	TLK_REV_LINK,	    /* revisions/sha256/<hex>/link */
	TLK_REV_TMP,	    /* any other name in revisions/sha256/<hex>/ */
	TLK_LAYERS,	    /* <repo>/_layers/ */
	TLK_LAYER_ALG,	    /* _layers/sha256/ */
	TLK_LAYER_DIG,	    /* _layers/sha256/<hex>/ */
	TLK_LAYER_LINK,	    /* _layers/sha256/<hex>/link */
	TLK_LAYER_TMP,	    /* any other name in _layers/sha256/<hex>/ */
	TLK_BLOBS,	    /* .../v2/blobs/ */
	TLK_BLOB_ALG,	    /* blobs/sha256/ */
	TLK_BLOB_PREFIX,    /* blobs/sha256/<2 hex>/ */
	TLK_BLOB_DIG,	    /* blobs/sha256/<2 hex>/<hex>/ (same first 2 hex) */
	TLK_BLOB_DATA, /* blobs/sha256/<2 hex>/<hex>/data: content-addressed,
			  never rewritten in place */
	TLK_BLOB_TMP,  /* any other name in blobs/sha256/<2 hex>/<hex>/
			  (3.1's data.<uuid>.tmp) */
	TLK_KIND_COUNT
};

/* What a node is. repo is set from TLK_REPO_DIR down, tag from TLK_TAG_DIR
 * down, hex for the *_DIG and *_LINK kinds below a digest directory.
 * in_tree: the node is the registry's tree (docker/, docker/registry/,
 * docker/registry/v2/ and everything below; with a mount at v2, the
 * repositories/ and blobs/ directories and below), whatever its kind. */
struct tlk_node {
	enum tlk_kind kind;
	bool in_tree;
	char repo[TLK_REPO_MAX];
	char tag[TLK_TAG_MAX + 1];
	char hex[TLK_HEX_LEN + 1];
};

/* The node for the mount root. */
void tlk_layout_root(struct tlk_node *out);

/* Classify `name` inside a directory classified as `parent`. `name` is one
 * path component (no '/'). `out` may alias `parent`. */
void tlk_layout_child(const struct tlk_node *parent, const char *name,
		      struct tlk_node *out);

/* Classify a path relative to the mount root ("" or "." is the root;
 * components separated by '/', empty components ignored). */
void tlk_layout_path(const char *relpath, struct tlk_node *out);

/* A tag name as distribution accepts it: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
bool tlk_layout_valid_tag(const char *tag);

/* Exactly 64 lowercase hex digits. */
bool tlk_layout_valid_hex(const char *s);

/* "link.<id>.tmp" with a non-empty id: the temporary file distribution 3.1+
 * writes before renaming it over "link". */
bool tlk_layout_is_link_tmp(const char *name);

/* True for kinds that are directories on the way down to a tag link or a
 * revision link (ROOT .. CURRENT, the index and revision directories). */
bool tlk_layout_is_structural_dir(enum tlk_kind kind);

/* The registry's link files (docs/design.md, rules 3 and 4). */
enum tlk_link_class {
	TLK_LINK_NONE = 0,
	TLK_LINK_TAG,  /* tags/<t>/current/link: what a tag points to */
	TLK_LINK_PATH, /* index, revision and layer links: they hold exactly
			  sha256:<hex> of their own path */
};
enum tlk_link_class tlk_layout_link_class(enum tlk_kind kind);

/* The digest a path-determined link must hold ("sha256:<hex>", 71 bytes
 * and a NUL) into buf; false for other nodes. */
bool tlk_layout_own_digest(const struct tlk_node *node, char *buf, size_t len);

/* Relative path from a directory of `kind` (tag dir, current/, index/ and
 * below) up to its tag directory ("." for the tag dir itself); NULL for
 * kinds that are not inside one tag. */
const char *tlk_layout_up_to_tag_dir(enum tlk_kind kind);

/* Relative path from a revision directory of `kind` (revisions/ and
 * below) to its repository's tags/ directory; NULL otherwise. */
const char *tlk_layout_revision_to_tags(enum tlk_kind kind);

/* Positions the registry only ever fills with a regular file: links and
 * blob data. A directory, symlink or device there is not its shape. */
bool tlk_layout_must_be_file(enum tlk_kind kind);

/* Kinds that belong to one repository's manifest and layer state: the
 * repository directories, the link files and every directory between.
 * Rule 2 of docs/design.md applies to these in immutable repositories. */
bool tlk_layout_is_repo_state(enum tlk_kind kind);

/* How much an inode's position matters to enforcement: when a file is
 * found under two names (hard links made behind the daemon's back) the
 * daemon keeps the weightier one. */
int tlk_layout_weight(const struct tlk_node *node);

/* A compact, heap-allocated copy of a node for the inode table (one per
 * inode the kernel holds). NULL from pack means "outside the tree, OTHER"
 * and unpacks as such; pack returns NULL also when out of memory, with
 * *oom set. Free with free(). */
struct tlk_packed_node;
struct tlk_packed_node *tlk_layout_pack(const struct tlk_node *node, bool *oom);
void tlk_layout_unpack(const struct tlk_packed_node *packed,
		       struct tlk_node *out);

/* True for the kinds whose files the daemon inspects (opened with direct
 * I/O): everything inside current/, index links and revision links. */
bool tlk_layout_is_inspected_file(enum tlk_kind kind);

/* Content-addressed blob data: its bytes are its name, so the kernel may
 * keep it cached across opens. */
bool tlk_layout_is_blob_data(enum tlk_kind kind);

/* A short stable name for logs and tests ("current_link", ...). */
const char *tlk_layout_kind_name(enum tlk_kind kind);

#endif
