#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Descriptor-starved tag walk (issue 8, item 3).

Makes a tree of REPOS repositories with TAGS tags in all in a fresh backing
directory, starts taglockfs on it with RLIMIT_NOFILE = LIMIT (soft and
hard), then walks the mount: `find` over the repositories, and os.stat()
plus a read of every tag link. Samples the daemon's descriptor count
(/proc/PID/fd) every 0.2 s. Prints one summary line.

    scripts/fd_walk.py BINARY [TAGS] [LIMIT]
"""
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

DIGEST = 'sha256:' + 'ab' * 32


def make_tree(backing, tags, repos=100):
    v2 = os.path.join(backing, 'docker/registry/v2/repositories')
    links = []
    for i in range(tags):
        rel = 'r%d/_manifests/tags/t%d/current' % (i % repos, i)
        d = os.path.join(v2, rel)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, 'link'), 'w') as f:
            f.write(DIGEST)
        links.append(rel + '/link')
    return links


def fd_count(pid):
    try:
        return len(os.listdir('/proc/%d/fd' % pid))
    except OSError:
        return -1


def main():
    binary = sys.argv[1]
    tags = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
    top = tempfile.mkdtemp(prefix='tlk-walk-')
    backing, mnt = os.path.join(top, 'b'), os.path.join(top, 'm')
    os.makedirs(backing)
    os.makedirs(mnt)
    policy = os.path.join(top, 'policy.yaml')
    with open(policy, 'w') as f:
        f.write('version: 1\nrepositories:\n  - name: r1\n    immutable: true\n')
    t0 = time.time()
    links = make_tree(backing, tags)
    made = time.time() - t0
    subprocess.run(['sync'])
    log = open(os.path.join(top, 'log'), 'w')

    def lower():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    proc = subprocess.Popen([binary, '-f', '-o', 'policy=' + policy,
                             backing, mnt], stdout=log,
                            stderr=subprocess.STDOUT, preexec_fn=lower)
    for _ in range(100):
        if os.path.ismount(mnt):
            break
        time.sleep(0.1)
    samples = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            samples.append(fd_count(proc.pid))
            time.sleep(0.2)
    th = threading.Thread(target=sample)
    th.start()
    errors = {}

    def err(what, e):
        key = '%s %s' % (what, getattr(e, 'strerror', e))
        errors[key] = errors.get(key, 0) + 1
    t1 = time.time()
    v2m = os.path.join(mnt, 'docker/registry/v2/repositories')
    r = subprocess.run(['find', v2m, '-name', 'link'], capture_output=True,
                       text=True)
    found = r.stdout.count('\n')
    if r.returncode != 0:
        errors['find exit %d: %s' % (r.returncode, r.stderr[:200])] = 1
    for rel in links:
        p = os.path.join(v2m, rel)
        try:
            os.stat(p)
        except OSError as e:
            err('stat', e)
        try:
            with open(p) as f:
                if f.read() != DIGEST:
                    err('read', 'wrong content')
        except OSError as e:
            err('read', e)
    walked = time.time() - t1
    stop.set()
    th.join()
    with open('/proc/%d/stat' % proc.pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    proc.terminate()
    proc.wait(timeout=30)
    subprocess.run(['fusermount3', '-u', mnt], capture_output=True)
    good = [s for s in samples if s >= 0]
    print('tags=%d limit=%d found=%d errors=%d %s fds max=%d median=%d '
          'samples=%d tree=%.0fs walk=%.2fs daemon_cpu=%.2fs top=%s' %
          (tags, limit, found, sum(errors.values()), errors,
           max(good) if good else -1,
           sorted(good)[len(good) // 2] if good else -1, len(good), made,
           walked, cpu, top))


if __name__ == '__main__':
    main()
