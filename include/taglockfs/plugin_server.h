/* SPDX-License-Identifier: MIT */
/*
 * plugin_server.h - the unix-socket listener of taglockfs-plugin: one
 * detached thread per connection (at most TLK_SERVER_CONN_MAX at once; the
 * next one is told 503), one request per connection.
 *
 * Return convention: 0 or -errno.
 */
#ifndef TAGLOCKFS_PLUGIN_SERVER_H
#define TAGLOCKFS_PLUGIN_SERVER_H

#include "taglockfs/plugin.h"

#define TLK_SERVER_CONN_MAX 64
#define TLK_SERVER_BODY_MAX (1024 * 1024)
#define TLK_SERVER_IO_TIMEOUT_S 30

/* Bind `path` (creating its directory; a stale socket file nobody answers
 * on is replaced, a live one is -EADDRINUSE). Returns the listening fd or
 * -errno with err set. */
int tlk_server_open(const char *path, struct tlk_perr *err);

/* Accept and serve until a signal arrives on `signal_fd` (a signalfd).
 * Then stop accepting and wait up to `drain_s` seconds for requests in
 * flight. Returns the signal number that stopped it, or -errno. */
int tlk_server_run(int listen_fd, int signal_fd, unsigned drain_s);

#endif
