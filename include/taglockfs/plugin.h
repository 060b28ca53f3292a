/* SPDX-License-Identifier: MIT */
/*
 * plugin.h - taglockfs-plugin, the Docker/Podman volume plugin: its
 * configuration and the small error-message carrier every module shares.
 *
 * The plugin serves the legacy volume plugin protocol (POST /<Method>, JSON
 * in and out) on a unix socket. Each volume is a backing directory and a
 * taglockfs mount beside it, both under the state directory:
 *
 *   STATE/state.json              the persisted volume list
 *   STATE/volumes/NAME/data       backing directory (the registry's data)
 *   STATE/volumes/NAME/mnt        taglockfs mountpoint handed to engines
 *   STATE/volumes/NAME/audit.jsonl  decisions log, unless audit_log= is given
 *
 * Module map (one header each): http.h and http_server.h (the project's
 * one HTTP server, shared with the daemon's gate), plugin_api.h
 * (endpoints), plugin_vol.h (volume table and lifecycle),
 * plugin_mount.h (starting/stopping/probing taglockfs mounts),
 * plugin_fs.h (state file, directory trees), plugin_audit.h (counting
 * refusals in an audit log).
 */
#ifndef TAGLOCKFS_PLUGIN_H
#define TAGLOCKFS_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>

#define TLK_PLUGIN_SOCKET "/run/docker/plugins/taglockfs.sock"
#define TLK_PLUGIN_STATE_DIR "/var/lib/taglockfs-plugin"

/* Written once by main() before any thread starts, read-only afterwards. */
struct tlk_plugin_config {
	const char *socket_path;
	const char *state_dir;
	const char *taglockfs;	    /* the daemon binary */
	const char *default_policy; /* NULL: Create must name policy= */
	unsigned watch_interval_ms; /* health check of mounts; 0 disables */
	unsigned check_timeout_ms;  /* a mount silent this long is hung */
	unsigned mount_timeout_s; /* a taglockfs start slower than this fails */
};

/* A message for a person, carried from where an error is found to the
 * reply. Fixed size so it lives on the stack of the request thread. */
struct tlk_perr {
	char msg[512];
};

/* Set err->msg (err may be NULL). Returns `ret` so callers can write
 * `return tlk_perr_set(err, -EINVAL, "...")`. */
int tlk_perr_set(struct tlk_perr *err, int ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Format into buf[0..size); -ENAMETOOLONG when it does not fit. */
int tlk_pathf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
