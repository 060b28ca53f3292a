/* SPDX-License-Identifier: MIT */
/*
 * main.c - taglockfs-plugin: options, start-up order, shutdown.
 *
 * Start-up order matters to the engines: the persisted volumes are loaded
 * before the socket exists (Docker forgets volumes a driver does not know
 * when it asks), the socket then answers at once, and the volumes are
 * mounted again in the background. On SIGTERM/SIGINT the plugin stops
 * answering and exits; the taglockfs mounts stay, so containers keep their
 * storage across a restart of the plugin.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "taglockfs/log.h"
#include "taglockfs/plugin.h"
#include "taglockfs/plugin_server.h"
#include "taglockfs/plugin_vol.h"

static const char usage[] =
    "usage: taglockfs-plugin [OPTIONS]\n"
    "Serve the Docker/Podman volume plugin API for taglockfs volumes.\n\n"
    "  --socket PATH          unix socket (default " TLK_PLUGIN_SOCKET ")\n"
    "  --state-dir DIR        volumes and state file "
    "(default " TLK_PLUGIN_STATE_DIR ")\n"
    "  --taglockfs PATH       the taglockfs binary (default: beside this\n"
    "                         program, else /usr/local/bin/taglockfs)\n"
    "  --default-policy FILE  policy for volumes created without policy=\n"
    "  --watch-interval MS    health check of mounts (default 2000, 0 off)\n"
    "  --check-timeout MS     a mount that does not answer a check within MS\n"
    "                         is reported hung (default 5000)\n"
    "  --mount-timeout S      give up on a mount after S seconds (default 60)\n"
    "  --syslog               log to syslog instead of stderr\n"
    "  -d, --debug            log every request\n"
    "  -h, --help, --version\n";

static char taglockfs_buf[PATH_MAX];

/* Beside our own binary first (a build tree, a managed plugin's rootfs),
 * then the installed locations. */
static const char *find_taglockfs(void)
{
	static const char *const fixed[] = {"/usr/local/bin/taglockfs",
					    "/usr/bin/taglockfs"};
	ssize_t n = readlink("/proc/self/exe", taglockfs_buf,
			     sizeof(taglockfs_buf) - 16);
	size_t i;

	if (n > 0) {
		char *slash;

		taglockfs_buf[n] = '\0';
		slash = strrchr(taglockfs_buf, '/');
		if (slash != NULL) {
			strcpy(slash + 1, "taglockfs");
			if (access(taglockfs_buf, X_OK) == 0)
				return taglockfs_buf;
		}
	}
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (access(fixed[i], X_OK) == 0)
			return fixed[i];
	return fixed[0];
}

static int parse_uint(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 86400000UL)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

enum {
	OPT_SOCKET = 256,
	OPT_STATE,
	OPT_TAGLOCKFS,
	OPT_POLICY,
	OPT_WATCH,
	OPT_CHECK,
	OPT_TIMEOUT,
	OPT_SYSLOG,
	OPT_VERSION
};

static const struct option longopts[] = {
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"state-dir", required_argument, NULL, OPT_STATE},
    {"taglockfs", required_argument, NULL, OPT_TAGLOCKFS},
    {"default-policy", required_argument, NULL, OPT_POLICY},
    {"watch-interval", required_argument, NULL, OPT_WATCH},
    {"check-timeout", required_argument, NULL, OPT_CHECK},
    {"mount-timeout", required_argument, NULL, OPT_TIMEOUT},
    {"syslog", no_argument, NULL, OPT_SYSLOG},
    {"debug", no_argument, NULL, 'd'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* Returns 0 to run, 1 when --help/--version was served, -1 on bad usage. */
static int parse_args(int argc, char **argv, struct tlk_plugin_config *cfg,
		      bool *to_syslog, bool *debug)
{
	int c;

	while ((c = getopt_long(argc, argv, "dh", longopts, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case OPT_SOCKET:
			cfg->socket_path = optarg;
			break;
		case OPT_STATE:
			cfg->state_dir = optarg;
			break;
		case OPT_TAGLOCKFS:
			cfg->taglockfs = optarg;
			break;
		case OPT_POLICY:
			cfg->default_policy = optarg;
			break;
		case OPT_WATCH:
			bad = parse_uint(optarg, &cfg->watch_interval_ms);
			break;
		case OPT_CHECK:
			bad = parse_uint(optarg, &cfg->check_timeout_ms);
			break;
		case OPT_TIMEOUT:
			bad = parse_uint(optarg, &cfg->mount_timeout_s);
			break;
		case OPT_SYSLOG:
			*to_syslog = true;
			break;
		case 'd':
			*debug = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		case OPT_VERSION:
			printf("taglockfs-plugin %s\n", TLK_VERSION);
			return 1;
		default:
			bad = -1;
			break;
		}
		if (bad < 0) {
			fputs(usage, stderr);
			return -1;
		}
	}
	if (optind != argc || cfg->mount_timeout_s == 0 ||
	    cfg->check_timeout_ms == 0) {
		fputs(usage, stderr);
		return -1;
	}
	return 0;
}

static int check_config(const struct tlk_plugin_config *cfg)
{
	if (access(cfg->taglockfs, X_OK) < 0) {
		tlk_err("taglockfs binary %s: %m (use --taglockfs PATH)",
			cfg->taglockfs);
		return -1;
	}
	if (cfg->state_dir[0] != '/' || cfg->socket_path[0] != '/' ||
	    (cfg->default_policy && cfg->default_policy[0] != '/')) {
		tlk_err("--state-dir, --socket and --default-policy take "
			"absolute paths");
		return -1;
	}
	return 0;
}

static int block_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC);
}

int main(int argc, char **argv)
{
	struct tlk_plugin_config cfg = {
	    .socket_path = TLK_PLUGIN_SOCKET,
	    .state_dir = TLK_PLUGIN_STATE_DIR,
	    .watch_interval_ms = 2000,
	    .check_timeout_ms = 5000,
	    .mount_timeout_s = 60,
	};
	struct tlk_perr err = {""};
	bool to_syslog = false, debug = false;
	int sfd, lfd, ret;

	ret = parse_args(argc, argv, &cfg, &to_syslog, &debug);
	if (ret != 0)
		return ret > 0 ? 0 : 2;
	tlk_log_init("taglockfs-plugin", to_syslog, debug);
	if (cfg.taglockfs == NULL)
		cfg.taglockfs = find_taglockfs();
	if (check_config(&cfg) < 0)
		return 1;
	if ((sfd = block_signals()) < 0) {
		tlk_err("signals: %m");
		return 1;
	}
	if (tlk_vol_init(&cfg, &err) < 0 ||
	    (lfd = tlk_server_open(cfg.socket_path, &err)) < 0) {
		tlk_err("%s", err.msg);
		return 1;
	}
	if ((ret = tlk_vol_watch_start(cfg.watch_interval_ms)) < 0)
		tlk_err("cannot start the health-check thread: %s",
			strerror(-ret));
	tlk_notice("serving %s (state %s, taglockfs %s)", cfg.socket_path,
		   cfg.state_dir, cfg.taglockfs);
	ret = tlk_server_run(lfd, sfd, 10);
	unlink(cfg.socket_path);
	if (ret < 0) {
		tlk_err("server: %s", strerror(-ret));
		return 1;
	}
	tlk_notice("stopped by signal %d; taglockfs mounts stay up", ret);
	return 0;
}
