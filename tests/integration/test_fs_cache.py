# SPDX-License-Identifier: MIT
"""What the kernel may cache (docs/design.md), seen from a reader.

Only the tree's fixed directories are cached long (cache_timeout); files
get at most `timeout`, links and link-sized files nothing. These tests
check that no caching ever serves what is no longer there: once a policy
edit unprotects a tag, an overwrite through the mount is seen by the next
read, for both of distribution's ways of writing a tag, on this mount and
on a second daemon sharing the backing directory and the policy; a
deleted or renamed link is gone at once; and a kernel entry moved by
renames never answers for a protected tag.
"""
import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest

from tlkutil import (OPEN_POLICY, digest, push_tag, read, rev_link, tag_link,
                     write_link)

REPO = 'test/example'
A, B = digest('cache-A').encode(), digest('cache-B').encode()


def read_until(path, want, within=2.0):
    """Read `path` until it holds `want` or `within` seconds passed;
    returns what it held last and how long it took."""
    start = time.monotonic()
    while True:
        got = read(path)
        if got == want or time.monotonic() - start > within:
            return got, time.monotonic() - start
        time.sleep(0.01)


def unprotect(m, *others):
    """Make test/example mutable and wait until every daemon loaded it."""
    marks = [(d, d.log_mark()) for d in (m,) + others]
    m.set_policy(OPEN_POLICY, 'rename')
    for d, mark in marks:
        d.wait_line('loaded', start=mark)


@pytest.mark.parametrize('seq', ['28', '31'])
def test_overwrite_after_unprotect_is_read_at_once(tlk, seq):
    m = tlk.mount()
    link = tag_link(m.root, REPO, 'v1')
    push_tag(m.root, REPO, 'v1', A.decode())
    for _ in range(20):             # in the kernel's cache now
        assert read(link) == A
    unprotect(m)
    push_tag(m.root, REPO, 'v1', B.decode(), seq=seq)
    got, took = read_until(link, B)
    assert got == B, 'still %s %.2f s after the overwrite' % (got, took)
    assert read(tag_link(m.broot, REPO, 'v1')) == B
    print('overwrite seen after %.3f s' % took)


def test_replica_sees_the_overwrite_after_its_own_reload(tlk):
    m = tlk.mount()
    r = tlk.mount_second(m)
    push_tag(m.root, REPO, 'v1', A.decode())
    for _ in range(20):
        assert read(tag_link(r.root, REPO, 'v1')) == A
    unprotect(m, r)
    push_tag(m.root, REPO, 'v1', B.decode())
    got, took = read_until(tag_link(r.root, REPO, 'v1'), B)
    assert got == B, 'replica still reads %s after %.2f s' % (got, took)


def test_replica_sees_a_tag_deleted_and_pushed_again_at_once(tlk):
    """The tree's directories, a tag's own included, are cached for
    cache_timeout. A tag deleted and pushed again on another node is a new
    directory behind this kernel's back: the old one is gone, the lookup
    in it fails as stale and the kernel walks the path again, so the next
    read here gets the new link, not an error and not the old digest."""
    m = tlk.mount(policy=OPEN_POLICY)
    r = tlk.mount_second(m)
    push_tag(m.root, REPO, 'v1', A.decode())
    link = tag_link(r.root, REPO, 'v1')
    for _ in range(20):
        assert read(link) == A
    shutil.rmtree(tag_link(m.root, REPO, 'v1').parent.parent)
    assert not os.path.exists(link)
    push_tag(m.root, REPO, 'v1', B.decode())
    for _ in range(20):
        assert read(link) == B
    shutil.rmtree(tag_link(m.root, REPO, 'v1').parent.parent)
    with pytest.raises(FileNotFoundError):
        read(link)
    assert 'v1' not in os.listdir(link.parent.parent.parent)


@pytest.mark.parametrize('holder', ['here', 'replica'])
def test_a_tag_pushed_again_on_a_replica_is_read_while_its_old_directory_is_held(
        tlk, holder):
    """Found by the red team: a removed directory that something keeps
    open still opens by handle, so a lookup in it answered ENOENT and the
    kernel kept its cached entry of the old directory: the tag, deleted
    and pushed again on the other node, was missing here for 60 s. The
    lookup now answers ESTALE there, and the kernel walks the path
    again."""
    m = tlk.mount(policy=OPEN_POLICY)
    r = tlk.mount_second(m)
    push_tag(m.root, REPO, 'v1', A.decode())
    link = tag_link(m.root, REPO, 'v1')
    for _ in range(5):
        assert read(link) == A
    held = (m if holder == 'here' else r).root / link.relative_to(m.root)
    fd = os.open(held.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        shutil.rmtree(tag_link(r.root, REPO, 'v1').parent.parent)
        push_tag(r.root, REPO, 'v1', B.decode())
        try:
            got = read(link)
        except OSError as e:
            got = e
        assert got == B, 'read %r right after the push' % (got,)
    finally:
        os.close(fd)


def test_policy_edit_back_and_forth_never_serves_a_stale_tag(tlk):
    """Protect, cache, unprotect, overwrite, protect again (cached again),
    unprotect, overwrite: every read after each overwrite is the new
    digest."""
    m = tlk.mount()
    link = tag_link(m.root, REPO, 'v1')
    protect = m.policy.read_text()
    want = A
    push_tag(m.root, REPO, 'v1', A.decode())
    for i in range(4):
        for _ in range(10):
            assert read(link) == want
        unprotect(m)
        want = digest('cache-%d' % i).encode()
        write_link(link, want.decode())
        got, took = read_until(link, want)
        assert got == want, 'round %d: %s after %.2f s' % (i, got, took)
        mark = m.log_mark()
        m.set_policy(protect, 'rename')
        m.wait_line('loaded', start=mark)


def test_removed_and_renamed_links_are_gone_at_once(tlk):
    m = tlk.mount(policy=OPEN_POLICY)
    push_tag(m.root, REPO, 'v1', A.decode())
    rev = rev_link(m.root, REPO, A.decode())
    for _ in range(10):
        assert read(rev) == A
    os.unlink(rev)
    assert not os.path.exists(rev)
    assert not os.path.exists(rev_link(m.broot, REPO, A.decode()))
    link = tag_link(m.root, REPO, 'v1')
    for _ in range(10):
        assert read(link) == A
    os.rename(link, str(link) + '.old')
    assert not os.path.exists(link)


def test_a_moved_cached_entry_never_answers_for_a_protected_tag(tlk):
    """Found by the red team: with files cached for 60 s, a layer link
    renamed onto a mutable tag's link (published as a copy) carried its
    kernel entry there; after an allowed overwrite of that tag (a new file
    behind the kernel's back) and a rename of it onto a protected tag
    holding the same digest ("identical"), the kernel's entry for the
    protected tag named the layer link's file: readers got another digest
    for a minute. Files get at most `timeout` now, and link-sized ones 0."""
    m = tlk.mount()
    d1, d2 = digest('moved-1'), digest('moved-2')
    v1, latest = tag_link(m.root, REPO, 'v1'), tag_link(m.root, REPO, 'latest')
    push_tag(m.root, REPO, 'v1', d2)
    layer = (m.root / 'repositories' / REPO / '_layers' / 'sha256' /
             d1[7:] / 'link')
    write_link(layer, d1)
    os.stat(layer)                  # in the kernel's cache
    os.makedirs(latest.parent, exist_ok=True)
    os.rename(layer, latest)        # mutable tag: published as a copy
    write_link(latest, d2)          # allowed: a new file behind the kernel
    os.rename(latest, v1)           # identical to v1: allowed
    for _ in range(50):
        assert read(v1) == d2.encode(), 'v1 reads %r' % read(v1)
        time.sleep(0.01)
    assert read(tag_link(m.broot, REPO, 'v1')) == d2.encode()


def test_a_file_changed_behind_the_kernel_is_read_fresh_within_timeout(tlk):
    """Readers keep the pages of earlier opens (classic build); another
    node rewriting the file is seen once the attributes expire (1 s):
    the kernel drops pages whose file changed size or mtime."""
    m = tlk.mount()
    f, bf = m.mnt / 'plain.bin', m.backing / 'plain.bin'
    f.write_bytes(b'a' * 65536)
    for _ in range(5):
        assert f.read_bytes() == b'a' * 65536
    time.sleep(0.01)
    bf.write_bytes(b'b' * 65536)     # same size, another mtime
    got, took = read_until(f, b'b' * 65536, within=3.0)
    assert got == b'b' * 65536, 'stale after %.2f s' % took
    assert took < 2.5, took


@pytest.mark.parametrize('rename_on', ['here', 'replica'])
@pytest.mark.parametrize('read_before', [True, False])
def test_pages_of_an_upload_rewritten_on_a_replica_never_serve_a_blob(
        tlk, rename_on, read_before):
    """Found by the red team (classic build): an upload read here left its
    pages in this kernel; a replica rewrote it in place with the same size
    and set its mtime back (the kernel's own test sees no change), then it
    was renamed into blobs/ under the digest of its new bytes: this node
    served the old bytes as that blob for as long as the pages stayed. A
    reader keeps earlier pages only while the file's ctime is unchanged."""
    m = tlk.mount(policy=OPEN_POLICY)
    r = tlk.mount_second(m)
    x, y = b'X' * 8192, b'Y' * 8191 + b'\n'
    hexd = hashlib.sha256(y).hexdigest()
    up = Path('repositories') / REPO / '_uploads' / 'u1' / 'data'
    blob = Path('blobs') / 'sha256' / hexd[:2] / hexd / 'data'
    os.makedirs((m.root / up).parent)
    (m.root / up).write_bytes(x)
    for _ in range(3):
        assert (m.root / up).read_bytes() == x      # pages here
    st = os.stat(r.root / up)
    with open(r.root / up, 'r+b') as f:             # rewritten there
        f.write(y)
    os.utime(r.root / up, ns=(st.st_atime_ns, st.st_mtime_ns))
    if read_before:
        (m.root / up).read_bytes()
    node = m if rename_on == 'here' else r
    os.makedirs((node.root / blob).parent)
    os.rename(node.root / up, node.root / blob)
    for _ in range(5):
        assert (m.root / blob).read_bytes() == y
        time.sleep(0.05)
