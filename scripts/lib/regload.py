#!/usr/bin/env python3
"""regload.py - registry-shaped read load for scripts/bench.sh.

Usage:
  regload.py tags HOST:PORT EXPECT
      GET /v2/<repo>/tags/list once for every repository in EXPECT
  regload.py get HOST:PORT EXPECT N SEED
      N GETs of /v2/<repo>/manifests/<tag> by tag, the (repo, tag) pairs
      drawn at random from EXPECT with SEED (the same seed, the same
      sequence), with the Accept header of a client that takes OCI and
      Docker manifests and indexes

EXPECT is mkregtree.py's output: "<repo> <tag> <digest>" per line. Every
answer is checked (status 200; the tag list holds exactly the repository's
tags; the manifest's Docker-Content-Digest is the expected one). One
keep-alive connection, one request at a time, like a pull.

Prints "<seconds> <requests> <errors>"; the first error goes to stderr.
"""
import http.client
import json
import random
import sys
import time

ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])


def load(path):
    tags = {}
    pairs = []
    with open(path) as f:
        for line in f:
            repo, tag, dig = line.split()
            tags.setdefault(repo, set()).add(tag)
            pairs.append((repo, tag, dig))
    return tags, pairs


class Client:
    def __init__(self, host):
        self.conn = http.client.HTTPConnection(host, timeout=60)
        self.errors = 0

    def fail(self, what):
        if self.errors == 0:
            print("regload.py: " + what, file=sys.stderr)
        self.errors += 1

    def get(self, path, headers):
        self.conn.request("GET", path, headers=headers)
        r = self.conn.getresponse()
        return r, r.read()


def run_tags(c, tags):
    for repo in sorted(tags):
        r, body = c.get("/v2/%s/tags/list" % repo, {})
        if r.status != 200:
            c.fail("tags/list of %s: HTTP %d" % (repo, r.status))
            continue
        got = set(json.loads(body).get("tags") or [])
        if got != tags[repo]:
            c.fail("tags/list of %s: %d tags, expected %d"
                   % (repo, len(got), len(tags[repo])))
    return len(tags)


def run_get(c, pairs, n, seed):
    rnd = random.Random(seed)
    for _ in range(n):
        repo, tag, dig = rnd.choice(pairs)
        r, _ = c.get("/v2/%s/manifests/%s" % (repo, tag), {"Accept": ACCEPT})
        got = r.getheader("Docker-Content-Digest")
        if r.status != 200 or got != dig:
            c.fail("manifest %s:%s: HTTP %d, digest %s, expected %s"
                   % (repo, tag, r.status, got, dig))
    return n


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("tags", "get"):
        sys.exit(__doc__)
    mode, host, expect = sys.argv[1:4]
    tags, pairs = load(expect)
    c = Client(host)
    t0 = time.perf_counter()
    if mode == "tags":
        n = run_tags(c, tags)
    else:
        n = run_get(c, pairs, int(sys.argv[4]), int(sys.argv[5]))
    t1 = time.perf_counter()
    print("%.6f %d %d" % (t1 - t0, n, c.errors))


if __name__ == "__main__":
    main()
