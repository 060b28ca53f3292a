# SPDX-License-Identifier: MIT
"""`-o io_uring`: FUSE over io_uring, off unless asked for.

It needs libfuse >= 3.18 built with liburing (scripts/build-libfuse.sh
--uring) and the kernel's fuse module parameter enable_uring=Y; the
tests skip what this machine cannot show."""
import os
import re
import subprocess

import pytest

from tlkutil import (DEFAULT_POLICY, binary, digest, push_tag, read,
                     tag_link)

ENABLE = '/sys/module/fuse/parameters/enable_uring'


def libfuse_version():
    out = subprocess.run([binary(), '--version'], capture_output=True,
                         text=True).stdout
    found = re.search(r'libfuse (\d+)\.(\d+)', out)
    return (int(found[1]), int(found[2])) if found else (0, 0)


def kernel_enabled():
    try:
        with open(ENABLE) as f:
            return f.read().strip() == 'Y'
    except OSError:
        return False


def ring_fds(pid):
    fd_dir = '/proc/%d/fd' % pid
    n = 0
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(os.path.join(fd_dir, fd)) == 'anon_inode:[io_uring]':
                n += 1
        except OSError:
            pass
    return n


def required():
    """scripts/test.sh's io_uring pass: every mount asks for it, so this
    build and kernel must have it; a missing piece fails, never skips."""
    return 'io_uring' in os.environ.get('TLK_MOUNT_OPTIONS', '').split(',')


def unavailable(why):
    if required():
        pytest.fail(why + ' in the io_uring pass')
    pytest.skip(why)


def test_io_uring_mounts_and_serves(tlk):
    if libfuse_version() < (3, 18):
        unavailable('libfuse older than 3.18: no io_uring')
    if not kernel_enabled():
        unavailable('%s is not Y' % ENABLE)
    m = tlk.mount(options=['io_uring'], suite_options=False)
    if 'failed to start io-uring' in m.log_text():
        unavailable('libfuse built without liburing')
    tlk.wait_rings(m)  # the rings start just after the mount
    assert ring_fds(m.proc.pid) > 0, m.log_text()
    (m.mnt / 'plain.txt').write_bytes(b'through the ring\n')
    assert (m.backing / 'plain.txt').read_bytes() == b'through the ring\n'
    assert (m.mnt / 'plain.txt').read_bytes() == b'through the ring\n'
    # The rules still hold: a protected tag does not move.
    push_tag(m.root, 'test/example', 'v1', digest(1))
    with pytest.raises(OSError):
        push_tag(m.root, 'test/example', 'v1', digest(2))
    assert read(tag_link(m.root, 'test/example', 'v1')) == digest(1).encode()


def test_io_uring_is_off_by_default(tlk):
    if os.environ.get('FUSE_URING_ENABLE', '0') != '0':
        pytest.skip('FUSE_URING_ENABLE turns it on in libfuse itself')
    m = tlk.mount(suite_options=False)
    assert ring_fds(m.proc.pid) == 0


def test_io_uring_refused_without_libfuse_support(tlk):
    if libfuse_version() >= (3, 18):
        pytest.skip('libfuse %d.%d knows io_uring' % libfuse_version())
    mnt = tlk.tmpdir('mnt')
    back = tlk.tmpdir('backing')
    policy = tlk.write_policy(DEFAULT_POLICY)
    p = tlk.start(['-f', '-o', 'io_uring,policy=%s' % policy, back, mnt])
    _, err = p.communicate(timeout=10)
    assert p.returncode != 0
    assert b'io_uring needs libfuse >= 3.18' in err
