"""Bounded resources: a tag tree larger than the daemon's descriptor limit.

taglockfs holds one O_PATH descriptor per inode the kernel caches. With a
limit of 1024 descriptors (inherited from this test process), a storm of
2,500 tags (7,500 inodes) must still succeed: the daemon asks the kernel to
drop cached entries before it runs out, and protection keeps working for
entries that were dropped and looked up again.
"""
import errno
import os
import resource

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
