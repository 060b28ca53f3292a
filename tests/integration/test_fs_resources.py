"""Bounded resources: a tag tree larger than the daemon's descriptor limit.

taglockfs holds one O_PATH descriptor per inode the kernel caches. With a
limit of 1024 descriptors (inherited from this test process), a storm of
2,500 tags (7,500 inodes) must still succeed: the daemon asks the kernel to
drop cached entries before it runs out, and protection keeps working for
entries that were dropped and looked up again.

Where the backing filesystem gives file handles (these tests run on one
that does), cached inodes keep a handle instead, and descriptors are
opened only while a request runs: a walk of 20,000 tags at a limit of 256
gives no client an error.
"""
import errno
import os
import resource
import time

from tlkutil import digest, expect_errno, read, tag_link, write_link

LIMIT = int(os.environ.get("TLK_TEST_NOFILE", "1024"))
TAGS = 2500
POLICY = """version: 1
repositories:
  - name: locked/app
    immutable: true
"""

# Lowered for this process and the daemons it starts (meson runs each test
# file in its own pytest process).
resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


def fd_count(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


def vm_hwm_kib(pid):
    for line in open('/proc/%d/status' % pid):
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
    raise AssertionError('no VmHWM')


def test_storm_beyond_descriptor_limit(tlk):
    m = tlk.mount(policy=POLICY)
    pid = m.proc.pid
    d = digest('storm')
    peak = 0
    for i in range(TAGS):
        repo = 'locked/app' if i % 2 else 'plain/r%d' % (i % 7)
        write_link(tag_link(m.root, repo, 't%d' % i), d, '28' if i % 3 else '31')
        if i % 250 == 0:
            peak = max(peak, fd_count(pid))
    assert peak < LIMIT, 'daemon used %d descriptors' % peak
    assert 'out of file descriptors' not in m.log_text()
    # Every tag landed in the backing directory.
    for i in range(0, TAGS, 97):
        repo = 'locked/app' if i % 2 else 'plain/r%d' % (i % 7)
        assert read(tag_link(m.broot, repo, 't%d' % i)) == d.encode()
    # Entries trimmed from the kernel cache are still protected.
    other = digest('other')
    for i in range(1, TAGS, 210):  # odd: the locked repository
        link = tag_link(m.root, 'locked/app', 't%d' % i)
        expect_errno(errno.EPERM, write_link, link, other, '28')
        expect_errno(errno.EPERM, write_link, link, other, '31')
        assert read(tag_link(m.broot, 'locked/app', 't%d' % i)) == d.encode()
    # Mutable tags stay mutable.
    write_link(tag_link(m.root, 'plain/r0', 't0'), other, '28')
    assert read(tag_link(m.broot, 'plain/r0', 't0')) == other.encode()
    assert vm_hwm_kib(pid) < 64 * 1024


WALK_LIMIT = 256
WALK_TAGS = 20000


def _daemon_at_limit(tlk, limit):
    """Make tlk start the daemon with RLIMIT_NOFILE = limit, soft and hard
    (a non-root-capable hard limit it cannot raise: this test process has
    no CAP_SYS_RESOURCE, and lowers only the daemon's)."""
    wrapper = tlk.base / 'at-limit.sh'
    wrapper.write_text('#!/bin/sh\nulimit -n %d || exit 99\nexec %s "$@"\n'
                       % (limit, tlk.bin))
    wrapper.chmod(0o755)
    tlk.bin = str(wrapper)


def _nofile_limit(pid):
    for line in open('/proc/%d/limits' % pid):
        if line.startswith('Max open files'):
            return int(line.split()[3]), int(line.split()[4])
    raise AssertionError('no open-files limit for %d' % pid)


def test_walk_far_beyond_descriptor_limit(tlk):
    """Issue 8, item 3: walking 20,000 tags (60,000 inodes the kernel
    caches) with the daemon at a limit of 256 descriptors gives no client
    an error, and the daemon's descriptors stay under the limit."""
    import threading
    _daemon_at_limit(tlk, WALK_LIMIT)
    m = tlk.mount(policy=POLICY)
    pid = m.proc.pid
    assert _nofile_limit(pid) == (WALK_LIMIT, WALK_LIMIT)
    d = digest('walk')
    links = []
    for i in range(WALK_TAGS):
        repo = 'locked/app' if i % 5 == 0 else 'walk/r%d' % (i % 40)
        link = tag_link(m.broot, repo, 'w%d' % i)
        os.makedirs(os.path.dirname(link))
        with open(link, 'w') as f:
            f.write(d)
        links.append((repo, 'w%d' % i))
    samples = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            samples.append(fd_count(pid))
            done.wait(0.1)
    sampler = threading.Thread(target=sample)
    sampler.start()
    errors = []
    try:
        found = 0
        for top, dirs, files in os.walk(m.root / 'repositories',
                                        onerror=errors.append):
            found += files.count('link')
        for repo, tag in links:
            link = tag_link(m.root, repo, tag)
            try:
                os.stat(link)
                if read(link) != d.encode():
                    errors.append('%s: wrong bytes' % link)
            except OSError as e:
                errors.append(e)
    finally:
        done.set()
        sampler.join()
    assert not errors, \
        '%d client errors, first: %s' % (len(errors), errors[:5])
    assert found == WALK_TAGS
    assert max(samples) < WALK_LIMIT, \
        'daemon held %d descriptors (limit %d)' % (max(samples), WALK_LIMIT)
    assert 'out of file descriptors' not in m.log_text()
    # Tags reached again after the walk are still protected, and mutable
    # ones still change.
    other = digest('other')
    for i in range(0, WALK_TAGS, 997 * 5):
        link = tag_link(m.root, 'locked/app', 'w%d' % i)
        expect_errno(errno.EPERM, write_link, link, other, '28')
        expect_errno(errno.EPERM, write_link, link, other, '31')
        assert read(tag_link(m.broot, 'locked/app', 'w%d' % i)) == d.encode()
    write_link(tag_link(m.root, 'walk/r1', 'w1'), other, '31')
    assert read(tag_link(m.broot, 'walk/r1', 'w1')) == other.encode()



def test_backing_without_file_handles_holds_descriptors(tlk):
    """A backing filesystem the daemon cannot trust with file handles (here
    another FUSE mount, which protects nothing itself) makes every cached
    inode hold its descriptor, as before: the start says so, and
    protection works."""
    inner = tlk.mount(policy='version: 1\nrepositories: []\n')
    m = tlk.mount(policy=POLICY, backing=inner.mnt)
    m.wait_log('no usable file handles')
    assert 'no usable file handles' not in inner.log_text()
    d = digest('fallback')
    for i in range(150):
        link = tag_link(inner.broot, 'locked/app', 'f%d' % i)
        os.makedirs(os.path.dirname(link))
        with open(link, 'w') as f:
            f.write(d)
    for i in range(150):
        assert read(tag_link(m.root, 'locked/app', 'f%d' % i)) == d.encode()
    # One held descriptor per cached inode (tag dir, current, link: 450,
    # below the trimmer's mark); the inner daemon, on ext4, holds none.
    assert fd_count(m.proc.pid) > 450
    assert fd_count(inner.proc.pid) < 100
    link = tag_link(m.root, 'locked/app', 'f7')
    expect_errno(errno.EPERM, write_link, link, digest('other'), '28')
    expect_errno(errno.EPERM, write_link, link, digest('other'), '31')
    assert read(tag_link(inner.broot, 'locked/app', 'f7')) == d.encode()


def test_create_refused_for_want_of_descriptors_leaves_nothing(tlk):
    """Found by the second red-team round: a daemon out of descriptors
    refused a create with EMFILE after the file was made in the backing,
    and the file stayed (a refused operation must change nothing). The
    client holds files open through the mount (each costs the daemon one
    descriptor) until only k are left, for k = 0..5, and creates a 3.1
    temporary file in a protected tag's current/ directory each time."""
    wrapper = tlk.base / 'taglockfs-64'
    wrapper.write_text('#!/bin/sh\nexec prlimit --nofile=64:64 -- %s "$@"\n'
                       % tlk.bin)
    wrapper.chmod(0o755)
    tlk.bin = str(wrapper)
    m = tlk.mount()
    os.makedirs(m.root / 'repositories')
    filler = m.root / 'filler'
    filler.write_text('x')
    refused = 0
    for k in range(6):
        cur = tag_link(m.root, 'test/example', 'd%d' % k).parent
        os.makedirs(cur)
        time.sleep(0.3)
        held = []
        try:
            try:
                for _ in range(64 - len(os.listdir('/proc/%d/fd' %
                                                   m.proc.pid)) - k):
                    held.append(os.open(filler, os.O_RDONLY))
            except OSError:
                pass
            tmp = cur / 'link.1234.tmp'
            try:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                                 0o644))
            except OSError as e:
                assert e.errno in (errno.EMFILE, errno.ENFILE), e
                refused += 1
                left = os.listdir(tag_link(m.broot, 'test/example',
                                           'd%d' % k).parent)
                assert left == [], 'refused create left %s' % left
        finally:
            for fd in held:
                os.close(fd)
    assert refused >= 1, 'the daemon never ran out of descriptors'
