# SPDX-License-Identifier: MIT
# Against the old daemon (TAGLOCKFS=/work/old/taglockfs) every test here
# FAILS, except test_cp_and_rsync_copy_a_registry_tree (may pass; it
# does). Why each fails there (the first assertion that trips):
#  test_hardlink_touching_tree_refused[*]
#      link() judged only protected current/links: the link is made (all 3
#      forms)
#  test_symlink_in_tree_refused[*]
#      symlinks refused only for structural dirs: symlink() returns 0
#  test_fifo_in_tree_refused
#      mknod in the tree is passed straight through
#  test_directory_rename_touching_tree_refused[*]
#      a dir rename is refused only when it holds a protected tag
#  test_special_file_renamed_into_tree_refused[*]
#      symlink/FIFO/2-link file renamed into a mutable position: done
#  test_rename_exchange_touching_tree_refused[*]
#      RENAME_EXCHANGE refused only when a side holds protected state
#  test_multilinked_link_of_immutable_repo_read_only[*]
#      open(O_WRONLY) succeeds: no nlink check for latest or an unused
#      revision; the index alias gets a handle refused only at write()
#  test_planted_symlink_at_link_position[*]
#      the kernel follows the planted symlink: the write reaches the victim
#  test_digest_links_hold_their_own_digest[*]
#      revision/index/_layers links accept any bytes
#  test_write_fd_opened_before_revision_is_in_use
#      the earlier passthrough fd truncates the now in-use revision link
#  test_tag_write_fd_opened_while_mutable_judged_at_publish
#      a handle opened while mutable stays unguarded: ftruncate empties the now
#      protected tag
#  test_fail_closed_out_of_descriptors[*]
#      a scan hitting EMFILE reads as "nothing protected": rename/unlink done
#  test_fail_closed_unreadable_link[*]
#      an unreadable current/link (EACCES) reads as absent: rename/unlink done
#  test_backing_renamed_while_mounted[*]
#      fd paths leave the saved root path: the 3.1 overwrite succeeds
#  test_exchange_decoy_with_tag_dir_during_first_push
#      exchanges with a tag dir that has no link yet return 0
#  test_special_file_renamed_over_in_use_revision_link[*]
#      rename returns 0 and does nothing (a false success)
#  test_rename_current_away_under_open_first_publish
#      the rename of current/ away under the open handle succeeds
#  test_sighup_storm_from_start
#      libfuse's exit handler owns SIGHUP until the policy watcher starts and
#      teardown resets it to SIG_DFL: the daemon exits or dies of SIGHUP; after
#      SIGTERM it exits 1, not 0
#  test_directory_carrying_things_renamed_into_tag[*]
#      a dir from the mount root is renamed into tags/v9
#  test_hardlink_in_use_revision_link_to_mutable_tag
#      link() of the in-use revision link into team-a/scratch is made
#  test_linkat_of_fresh_protected_link_fd
#      linkat(AT_EMPTY_PATH) of the creating fd (a pending inode) is made
"""Attacks that go around the tag rules through the mount, each
reproducing a hole of the daemon before the hardening. Every refusal is
checked twice: the errno the caller gets, and the backing directory
byte-for-byte (snapshot before, compare after).

"The tree" is docker/registry/v2 and below; the mount root outside it is
an ordinary directory. Rules (numbers used in the docstrings):
 1 registry shapes only: no hard links touching the tree, no symlinks or
   FIFOs in it, no directory renames into/out of/within it, no symlink,
   FIFO or multiply-linked file renamed into it, no RENAME_EXCHANGE there;
 2 a multiply-linked or symlinked link file of an immutable repository is
   read-only through the mount;
 3 revision, index and _layers links hold exactly their own digest, in
   every repository, also through a descriptor opened earlier;
 4 a tag link is judged when it is published, not when it was opened;
 5 when the daemon cannot read what it needs (EMFILE, EACCES) it fails;
 6 moving the backing directory (or an ancestor) does not unguard it;
 7 races and false answers;
 8 SIGHUP storms from start-up; SIGTERM exits 0;
 9 directories carrying links, symlinks or open files into a tag;
10 hard links of in-use revision links and of fresh protected links.
"""
import ctypes
import errno
import hashlib
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

import tlkutil
from tlkutil import (RENAME_EXCHANGE, V2, close_quietly, digest, snapshot,
                     expect_errno, hexpart, index_link, mounted_fuse,
                     push_tag, read, renameat2, rev_link, tag_dir, tag_link,
                     write_link_28, write_link_31)

REPO = 'test/example'          # immutable; 'latest' mutable
SCR = 'team-a/scratch'         # mutable
D1, D2, D3, D4 = digest('atk-1'), digest('atk-2'), digest('atk-3'), \
    digest('atk-4')
EARLY_STEPS = ('mkdir', 'open', 'ftruncate', 'write', 'fsync', 'fsync2',
               'rename')
MUTABLE_EXAMPLE = tlkutil.DEFAULT_POLICY.replace(
    '  - name: test/example\n    immutable: true\n',
    '  - name: test/example\n    immutable: false\n')
assert MUTABLE_EXAMPLE != tlkutil.DEFAULT_POLICY

AT_FDCWD = -100
AT_SYMLINK_FOLLOW = 0x400
AT_EMPTY_PATH = 0x1000
_libc = ctypes.CDLL(None, use_errno=True)


# ---------------------------------------------------------------- helpers

def linkat(olddirfd, oldpath, newdirfd, newpath, flags):
    r = _libc.linkat(olddirfd, os.fsencode(str(oldpath)), newdirfd,
                     os.fsencode(str(newpath)), ctypes.c_int(flags))
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), str(newpath))


def link_empty_path(src, dst):
    """linkat(fd, "", AT_FDCWD, dst, AT_EMPTY_PATH) of a descriptor on src."""
    fd = os.open(src, os.O_RDONLY | os.O_NONBLOCK)
    try:
        linkat(fd, '', AT_FDCWD, dst, AT_EMPTY_PATH)
    finally:
        os.close(fd)


def link_proc_fd(src, dst):
    """linkat of /proc/self/fd/N with AT_SYMLINK_FOLLOW."""
    fd = os.open(src, os.O_RDONLY | os.O_NONBLOCK)
    try:
        linkat(AT_FDCWD, '/proc/self/fd/%d' % fd, AT_FDCWD, dst,
               AT_SYMLINK_FOLLOW)
    finally:
        os.close(fd)


LINKERS = {'link': os.link, 'empty_path': link_empty_path,
           'proc_fd': link_proc_fd}


TMP_NAME = re.compile(r'^link\.[0-9a-fA-F-]{36}\.tmp$')


def assert_same(before, root, what=''):
    """The backing below root is exactly `before`. A refused distribution
    3.1 write leaves its own link.<uuid>.tmp behind (the registry does
    the same on any error): new names of that shape are not counted."""
    after = {k: v for k, v in snapshot(root).items()
             if k in before or not TMP_NAME.match(os.path.basename(k))}
    if after != before:
        changed = sorted(k for k in set(before) | set(after)
                         if before.get(k) != after.get(k))
        raise AssertionError('%sbacking changed: %s' % (
            what and what + ': ',
            ['%s: %r -> %r' % (k, before.get(k), after.get(k))
             for k in changed[:12]]))


def refused(fn, *args, err=errno.EPERM):
    """fn fails with err, and (for the write sequences) before close."""
    e = expect_errno(err, fn, *args)
    step = getattr(e, 'step', None)
    assert step is None or step in EARLY_STEPS, (
        'the error came only from %s(); the registry ignores that' % step)
    return e


def open_close(path, flags):
    """open(2) then close (quietly): a descriptor that should not have
    been handed out must not keep the mount busy."""
    close_quietly(os.open(path, flags))


def fails(fn, *args):
    """fn fails with any OSError; returns the errno."""
    try:
        fn(*args)
    except OSError as e:
        return e.errno
    raise AssertionError('%s%r succeeded, expected it to fail'
                         % (getattr(fn, '__name__', fn), args))


BLOB_BYTES = b'blob bytes\n'


def blob_data(root, n='blob'):
    """The data path of blob `n`; 'blob' is BLOB_BYTES, named by its
    SHA-256 (a small blob appears only with the bytes of its name)."""
    h = (hashlib.sha256(BLOB_BYTES).hexdigest() if n == 'blob'
         else hexpart(digest(n)))
    return Path(root) / 'blobs' / 'sha256' / h[:2] / h / 'data'


def layer_link(root, repo, dgst):
    return (Path(root) / 'repositories' / repo / '_layers' / 'sha256'
            / hexpart(dgst) / 'link')


def makeparent(p):
    os.makedirs(Path(p).parent, exist_ok=True)


def put(p, data):
    makeparent(p)
    with open(p, 'wb') as f:
        f.write(data)


def setup_tree(m):
    """team-a/scratch:v1 -> D1 (mutable), test/example:v1 -> D1
    (protected), a blob, a plain file at the mount root."""
    push_tag(m.root, SCR, 'v1', D1)
    push_tag(m.root, REPO, 'v1', D1)
    put(blob_data(m.root), BLOB_BYTES)
    put(m.mnt / 'outside', D2.encode())


def wait_protected(m, tag='v0'):
    """After a policy edit: wait until test/example:<tag> (pushed with
    digest('probe0') beforehand) refuses an overwrite."""
    deadline = time.monotonic() + 5
    n = 0
    while True:
        n += 1
        try:
            write_link_28(tag_link(m.root, REPO, tag), digest('probe%d' % n))
        except OSError as e:
            assert e.errno == errno.EPERM, e
            return
        assert time.monotonic() < deadline, 'policy reload not seen in 5 s'
        time.sleep(0.05)


# ------------------------------------------------------------ rule 1

@pytest.mark.parametrize('how', sorted(LINKERS))
@pytest.mark.parametrize('case', ['mutable_tag_to_outside',
                                  'blob_to_outside', 'outside_to_tag',
                                  'outside_to_blob', 'within_tree'])
def test_hardlink_touching_tree_refused(m, case, how):
    """Rule 1: no hard link whose source or new name is in the tree, by
    link(), linkat(AT_EMPTY_PATH) or linkat(/proc/self/fd/N, FOLLOW)."""
    setup_tree(m)
    src, dst = {
        'mutable_tag_to_outside': (tag_link(m.root, SCR, 'v1'),
                                   m.mnt / 'stolen'),
        'blob_to_outside': (blob_data(m.root), m.mnt / 'stolen'),
        'outside_to_tag': (m.mnt / 'outside', tag_link(m.root, SCR, 'v2')),
        'outside_to_blob': (m.mnt / 'outside', blob_data(m.root, 'b2')),
        'within_tree': (tag_link(m.root, SCR, 'v1'),
                        tag_link(m.root, SCR, 'v3')),
    }[case]
    makeparent(dst)
    before = snapshot(m.backing)
    expect_errno(errno.EPERM, LINKERS[how], src, dst)
    assert_same(before, m.backing)


@pytest.mark.parametrize('where', ['mutable_tag_link', 'v2_dir',
                                   'blob_data', 'uploads'])
def test_symlink_in_tree_refused(m, where):
    """Rule 1: no symlink anywhere in the tree."""
    setup_tree(m)
    p = {'mutable_tag_link': tag_link(m.root, SCR, 'v2'),
         'v2_dir': m.root / 'planted',
         'blob_data': blob_data(m.root, 'b3'),
         'uploads': m.root / 'repositories' / SCR / '_uploads' / 'x'}[where]
    makeparent(p)
    before = snapshot(m.backing)
    expect_errno(errno.EPERM, os.symlink, '/etc/hostname', p)
    expect_errno(errno.EPERM, os.symlink, '../outside', p)
    assert_same(before, m.backing)


def test_fifo_in_tree_refused(m):
    """Rule 1: no FIFO (mknod) anywhere in the tree."""
    setup_tree(m)
    up = m.root / 'repositories' / SCR / '_uploads'
    os.makedirs(up)
    before = snapshot(m.backing)
    for p in (up / 'fifo', m.root / 'fifo', tag_link(m.root, SCR, 'v1')
              .parent / 'link.fifo'):
        expect_errno(errno.EPERM, os.mkfifo, p)
    assert_same(before, m.backing)
    os.mkfifo(m.mnt / 'fifo')           # outside the tree: allowed
    assert stat.S_ISFIFO(os.lstat(m.backing / 'fifo').st_mode)


@pytest.mark.parametrize('case', ['mutable_tag_dir', 'immutable_uploads',
                                  'blob_dir', 'root_dir_into_tree',
                                  'repo_out_of_tree', 'empty_dir_in_tree'])
def test_directory_rename_touching_tree_refused(m, case):
    """Rule 1: a directory is never renamed when its source or its
    destination is in the tree (any repository, mutable or not)."""
    setup_tree(m)
    R = m.root
    os.makedirs(R / 'repositories' / REPO / '_uploads' / 'u1')
    os.makedirs(R / 'repositories' / 'team-a' / 'empty')
    os.makedirs(m.mnt / 'newdir')
    src, dst = {
        'mutable_tag_dir': (tag_dir(R, SCR, 'v1'), tag_dir(R, SCR, 'v1-x')),
        'immutable_uploads': (R / 'repositories' / REPO / '_uploads' / 'u1',
                              R / 'repositories' / REPO / '_uploads' / 'u2'),
        'blob_dir': (blob_data(R).parent, blob_data(R).parent.with_name(
            hexpart(digest('moved')))),
        'root_dir_into_tree': (m.mnt / 'newdir', tag_dir(R, SCR, 'v3')),
        'repo_out_of_tree': (R / 'repositories' / SCR,
                             m.mnt / 'scratch-moved'),
        'empty_dir_in_tree': (R / 'repositories' / 'team-a' / 'empty',
                              R / 'repositories' / 'team-a' / 'empty2'),
    }[case]
    before = snapshot(m.backing)
    expect_errno(errno.EPERM, os.rename, src, dst)
    assert_same(before, m.backing)


@pytest.mark.parametrize('dest', ['mutable_tag_link', 'blob_data'])
@pytest.mark.parametrize('kind', ['symlink', 'fifo', 'hardlinked'])
def test_special_file_renamed_into_tree_refused(m, kind, dest):
    """Rule 1: a symlink, a FIFO or a file with two names is not renamed
    from outside into the tree; a plain file still is."""
    setup_tree(m)
    src = m.mnt / 'evil'
    if kind == 'symlink':
        os.symlink('/etc/hostname', src)
    elif kind == 'fifo':
        os.mkfifo(src)
    else:
        src.write_bytes(D2.encode())
        os.link(src, m.mnt / 'evil2')    # both names outside: allowed
    good = D2.encode() if dest == 'mutable_tag_link' else b'plain blob\n'
    h = hashlib.sha256(good).hexdigest()
    dst = {'mutable_tag_link': tag_link(m.root, SCR, 'v2'),
           'blob_data': m.root / 'blobs/sha256' / h[:2] / h / 'data'}[dest]
    makeparent(dst)
    before = snapshot(m.backing)
    expect_errno(errno.EPERM, os.rename, src, dst)
    assert_same(before, m.backing)
    # File renames otherwise work (distribution 3.1, blob uploads).
    plain = m.mnt / 'plain'
    plain.write_bytes(good)
    os.rename(plain, dst)
    assert read(m.backing / dst.relative_to(m.mnt)) == good
    assert not os.path.lexists(m.backing / 'plain')


@pytest.mark.parametrize('case', ['mutable_tag_links', 'outside_and_blob',
                                  'outside_dir_and_mutable_tag_dir'])
def test_rename_exchange_touching_tree_refused(m, case):
    """Rule 1: RENAME_EXCHANGE with either side in the tree is refused."""
    setup_tree(m)
    push_tag(m.root, SCR, 'v2', D2)
    os.makedirs(m.mnt / 'dir' / 'current')
    a, b = {
        'mutable_tag_links': (tag_link(m.root, SCR, 'v1'),
                              tag_link(m.root, SCR, 'v2')),
        'outside_and_blob': (m.mnt / 'outside', blob_data(m.root)),
        'outside_dir_and_mutable_tag_dir': (m.mnt / 'dir',
                                            tag_dir(m.root, SCR, 'v1')),
    }[case]
    before = snapshot(m.backing)
    expect_errno(errno.EPERM, renameat2, a, b, RENAME_EXCHANGE)
    expect_errno(errno.EPERM, renameat2, b, a, RENAME_EXCHANGE)
    assert_same(before, m.backing)


# ------------------------------------------------------------ rule 2

@pytest.mark.parametrize('alias', ['latest_is_v1', 'unused_revision',
                                   'index_entry'])
def test_multilinked_link_of_immutable_repo_read_only(m, alias):
    """Rule 2: a link file of an immutable repository with a second hard
    link (made in the backing) reads fine but is never written,
    truncated, renamed or removed through the mount."""
    push_tag(m.root, REPO, 'v1', D1)
    B = m.broot
    if alias == 'latest_is_v1':
        rel, want = tag_link(V2, REPO, 'latest'), D1
        os.makedirs(m.backing / rel.parent)
        os.link(tag_link(B, REPO, 'v1'), m.backing / rel)
    else:
        rel = (rev_link(V2, REPO, D2) if alias == 'unused_revision'
               else index_link(V2, REPO, 'v1', D2))
        want = D2
        put(m.backing / rel, D2.encode())
        os.link(m.backing / rel, m.backing / 'alias')
    p = m.mnt / rel
    before = snapshot(m.backing)
    assert read(p) == want.encode()
    for flags in (os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_TRUNC):
        expect_errno(errno.EPERM, open_close, p, flags)
        assert_same(before, m.backing, 'open(%#x)' % flags)
    expect_errno(errno.EPERM, os.truncate, p, 0)
    assert_same(before, m.backing, 'truncate')
    expect_errno(errno.EPERM, os.rename, p, p.with_name('link.old'))
    assert_same(before, m.backing, 'rename')
    expect_errno(errno.EPERM, os.unlink, p)
    assert_same(before, m.backing, 'unlink')
    assert read(p) == want.encode()


@pytest.mark.parametrize('target', ['absolute', 'relative'])
@pytest.mark.parametrize('where', ['latest', 'new_protected_tag',
                                   'revision'])
def test_planted_symlink_at_link_position(m, where, target):
    """Rule 2: a symlink planted in the backing at a link position of an
    immutable repository is not followed to write its target, and is not
    renamed or removed through the mount."""
    push_tag(m.root, REPO, 'v1', D1)
    victim = m.backing / 'victim'
    victim.write_bytes(D1.encode())
    rel = {'latest': tag_link(V2, REPO, 'latest'),
           'new_protected_tag': tag_link(V2, REPO, 'v2'),
           'revision': rev_link(V2, REPO, D3)}[where]
    blink = m.backing / rel
    os.makedirs(blink.parent)
    os.symlink(str(victim) if target == 'absolute'
               else os.path.relpath(victim, blink.parent), blink)
    p = m.mnt / rel
    before = snapshot(m.backing)
    fails(write_link_28, p, D3 if where == 'revision' else D2)
    assert read(victim) == D1.encode()
    assert_same(before, m.backing, 'write through the symlink')
    expect_errno(errno.EPERM, os.rename, p, p.with_name('link.old'))
    assert_same(before, m.backing, 'rename')
    expect_errno(errno.EPERM, os.unlink, p)
    assert_same(before, m.backing, 'unlink')


# ------------------------------------------------------------ rule 3

@pytest.mark.parametrize('seq', ['28', '31'])
@pytest.mark.parametrize('kind', ['revision', 'index', 'layer'])
@pytest.mark.parametrize('repo', [SCR, REPO], ids=['mutable', 'immutable'])
def test_digest_links_hold_their_own_digest(m, repo, kind, seq):
    """Rule 3: revision, tag index and _layers links take exactly the
    digest of their own path, in mutable and immutable repositories."""
    w = write_link_28 if seq == '28' else write_link_31
    pos = {'revision': lambda root, d: rev_link(root, repo, d),
           'index': lambda root, d: index_link(root, repo, 'v1', d),
           'layer': lambda root, d: layer_link(root, repo, d)}[kind]
    link, blink = pos(m.root, D1), pos(m.broot, D1)
    w(link, D1)                          # its own digest: fine
    assert read(blink) == D1.encode()
    before = snapshot(m.backing)
    refused(w, link, D2)
    assert read(blink) == D1.encode()
    assert_same(before, m.backing)
    w(link, D1)                          # identical rewrite: fine
    assert read(blink) == D1.encode()
    # A first write of foreign bytes: refused, nothing published (2.8's
    # open(O_CREAT) may leave an empty link: an empty link is absent).
    other, bother = pos(m.root, D3), pos(m.broot, D3)
    refused(w, other, D4)
    assert not bother.exists() or read(bother) == b'', read(bother)
    w(other, D3)
    assert read(bother) == D3.encode()


def test_write_fd_opened_before_revision_is_in_use(m):
    """Rule 3: a write descriptor on a revision link, opened before a
    protected tag pointed at it, cannot write other bytes afterwards."""
    link, blink = rev_link(m.root, REPO, D1), rev_link(m.broot, REPO, D1)
    write_link_28(link, D1)
    fd = os.open(link, os.O_WRONLY)
    try:
        push_tag(m.root, REPO, 'v1', D1)     # now in use by a protected tag
        before = snapshot(m.backing)
        try:
            os.ftruncate(fd, 0)
        except OSError as e:
            assert e.errno == errno.EPERM, e
        assert read(blink) == D1.encode(), 'ftruncate reached the link'
        expect_errno(errno.EPERM, os.write, fd, D2.encode())
        assert read(blink) == D1.encode()
    finally:
        close_quietly(fd)
    assert_same(before, m.backing)


# ------------------------------------------------------------ rule 4

def test_tag_write_fd_opened_while_mutable_judged_at_publish(tlk):
    """Rule 4: a tag link opened for writing while its repository was
    mutable is judged when it is written, after the policy protects it."""
    m = tlk.mount(policy=MUTABLE_EXAMPLE)
    push_tag(m.root, REPO, 'v1', D1)
    write_link_28(tag_link(m.root, REPO, 'v0'), digest('probe0'))
    link, blink = tag_link(m.root, REPO, 'v1'), tag_link(m.broot, REPO, 'v1')
    fd = os.open(link, os.O_WRONLY)
    try:
        m.set_policy(tlkutil.DEFAULT_POLICY)
        wait_protected(m)
        before = snapshot(m.backing)
        try:
            os.ftruncate(fd, 0)
            truncated = True
        except OSError as e:
            assert e.errno == errno.EPERM, e
            truncated = False
        assert read(blink) == D1.encode(), 'ftruncate reached the tag'
        if truncated:
            expect_errno(errno.EPERM, os.write, fd, D2.encode())
        else:
            try:
                os.write(fd, D2.encode())
            except OSError as e:
                assert e.errno == errno.EPERM, e
        assert read(blink) == D1.encode()
    finally:
        close_quietly(fd)
    assert read(blink) == D1.encode()
    assert_same(before, m.backing)


# ------------------------------------------------------------ rule 5

def limit_leaving(pid, spare):
    """A soft RLIMIT_NOFILE under which the daemon can open exactly
    `spare` more descriptors: the number of its (spare+1)-th free slot
    (a count of open descriptors is not enough when there are holes)."""
    used = {int(n) for n in os.listdir('/proc/%d/fd' % pid)}
    n, free = 0, []
    while len(free) <= spare:
        if n not in used:
            free.append(n)
        n += 1
    return free[spare]


def nofile(pid):
    for line in open('/proc/%d/limits' % pid):
        if line.startswith('Max open files'):
            soft, hard = line.split()[3:5]
            return soft, hard
    raise AssertionError('no Max open files')


def set_nofile(pid, soft, hard):
    r = subprocess.run(['prlimit', '--pid', str(pid),
                        '--nofile=%s:%s' % (soft, hard)],
                       capture_output=True)
    assert r.returncode == 0, r.stderr


def warm(root):
    """stat every name below root through the mount (kernel cache)."""
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            os.lstat(os.path.join(dirpath, n))


def rename_tag_dir(m):
    os.rename(tag_dir(m.root, REPO, 'v1'), tag_dir(m.root, REPO, 'v1-moved'))


def unlink_in_use_revision(m):
    os.unlink(rev_link(m.root, REPO, D1))


FAIL_CLOSED_OPS = {'rename_tag_dir': rename_tag_dir,
                   'unlink_in_use_revision': unlink_in_use_revision}


@pytest.mark.parametrize('op', sorted(FAIL_CLOSED_OPS))
def test_fail_closed_out_of_descriptors(tlk, op):
    """Rule 5: out of descriptors, an operation that might touch
    protected state fails instead of being done unchecked. The paths are
    stat-ed through the mount first (timeout=60 keeps them cached); then
    `prlimit --pid` lowers the daemon's soft RLIMIT_NOFILE so that it can
    open exactly 0, 1, 2, ... more descriptors (its free slots are
    counted: holes below the open count would leave room)."""
    if not shutil.which('prlimit'):
        pytest.skip('prlimit is not installed')
    m = tlk.mount(options=('timeout=60',))
    push_tag(m.root, REPO, 'v1', D1)
    pid = m.proc.pid
    soft, hard = nofile(pid)
    before = snapshot(m.backing)
    outcomes = []
    try:
        # Exactly at the limit, and with a few descriptors to spare (the
        # lookup may get its own and the scan not).
        for spare in (0, 1, 2, 3, 4, 6, 8):
            warm(m.root / 'repositories')
            # Only the soft limit: a hard limit lowered could not be
            # raised again here (no CAP_SYS_RESOURCE in the init userns).
            set_nofile(pid, limit_leaving(pid, spare), hard)
            try:
                FAIL_CLOSED_OPS[op](m)
                outcomes.append((spare, 'succeeded'))
            except OSError as e:
                outcomes.append((spare, errno.errorcode.get(e.errno,
                                                            e.errno)))
            finally:
                set_nofile(pid, soft, hard)
            if outcomes[-1][1] == 'succeeded':
                break
    finally:
        set_nofile(pid, soft, hard)
    assert all(o != 'succeeded' for _, o in outcomes), outcomes
    assert_same(before, m.backing)
    assert m.alive()
    # With descriptors back, the ordinary refusal.
    expect_errno(errno.EPERM, FAIL_CLOSED_OPS[op], m)
    assert_same(before, m.backing)


def mount_without_dac(tlk, **kw):
    """A mount whose daemon runs without CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH (setpriv in front of the binary)."""
    setpriv = shutil.which('setpriv')
    if not setpriv:
        pytest.skip('setpriv is not installed')
    real = tlk.bin
    wrapper = tlk.base / 'taglockfs-nodac'
    wrapper.write_text('#!/bin/sh\nexec %s --inh-caps=-all '
                       '--bounding-set=-dac_override,-dac_read_search '
                       '%s "$@"\n' % (shlex.quote(setpriv),
                                      shlex.quote(real)))
    wrapper.chmod(0o755)
    tlk.bin = str(wrapper)
    try:
        m = tlk.mount(**kw)
    finally:
        tlk.bin = real
    caps = None
    for line in open('/proc/%d/status' % m.proc.pid):
        if line.startswith('CapEff:'):
            caps = int(line.split()[1], 16)
    if caps is None or caps & 0b110:
        pytest.skip('could not drop CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH '
                    'from the daemon (CapEff %r)' % caps)
    return m


@pytest.mark.parametrize('unreadable', ['link', 'current_dir'])
@pytest.mark.parametrize('op', sorted(FAIL_CLOSED_OPS))
def test_fail_closed_unreadable_link(tlk, op, unreadable):
    """Rule 5: when the daemon cannot read a protected tag's current/link
    (EACCES), an operation that might touch protected state fails."""
    m = mount_without_dac(tlk)
    push_tag(m.root, REPO, 'v1', D1)
    blink = tag_link(m.broot, REPO, 'v1')
    target = blink if unreadable == 'link' else blink.parent
    old_mode = os.stat(target).st_mode & 0o7777
    before = snapshot(m.backing)
    os.chmod(target, 0)
    try:
        fails(FAIL_CLOSED_OPS[op], m)
    finally:
        if os.path.lexists(target):
            os.chmod(target, old_mode)
    assert_same(before, m.backing)


# ------------------------------------------------------------ rule 6

@pytest.mark.parametrize('which', ['backing', 'ancestor'])
def test_backing_renamed_while_mounted(tlk, which):
    """Rule 6: renaming the backing directory (or one above it) while
    mounted does not unguard it: overwrites, unlink and renames stay
    refused and the moved backing keeps the digest."""
    if which == 'backing':
        m = tlk.mount()
        moving = m.backing
    else:
        moving = tlk.tmpdir('ancestor')
        backing = moving / 'data'
        backing.mkdir()
        m = tlk.mount(backing=backing)
    push_tag(m.root, REPO, 'v1', D1)
    moved = moving.with_name(moving.name + '-moved')
    new_backing = moved / m.backing.relative_to(moving) \
        if which == 'ancestor' else moved
    before = snapshot(m.backing)
    os.rename(moving, moved)
    try:
        link = tag_link(m.root, REPO, 'v1')
        blink = tag_link(new_backing / V2, REPO, 'v1')

        def overwrite_28():
            write_link_28(link, D2)

        def overwrite_31():
            write_link_31(link, D2)

        def unlink_link():
            os.unlink(link)

        def rename_tag_dir():
            os.rename(tag_dir(m.root, REPO, 'v1'),
                      tag_dir(m.root, REPO, 'v1-moved'))

        for attack in (overwrite_28, overwrite_31, unlink_link,
                       rename_tag_dir):
            refused(attack)
            assert read(blink) == D1.encode(), attack.__name__
            assert_same(before, new_backing, attack.__name__)
    finally:
        os.rename(moved, moving)
    assert read(tag_link(m.broot, REPO, 'v1')) == D1.encode()


# ------------------------------------------------------------ rule 7

def test_exchange_decoy_with_tag_dir_during_first_push(m):
    """Rule 7a: RENAME_EXCHANGE of a decoy directory with a tag directory
    while its first push runs is refused every time; the tag ends with
    one of the pushed digests."""
    tags = tag_dir(m.root, REPO, 'v5').parent
    os.makedirs(tags / 'v5')
    decoy = m.mnt / 'decoy'
    os.makedirs(decoy / 'current')
    pushed = [digest('race-a'), digest('race-b')]
    results, push_results = [], {}
    stop, go = threading.Event(), threading.Event()

    def attacker():
        while not stop.is_set():
            try:
                renameat2(decoy, tags / 'v5', RENAME_EXCHANGE)
                results.append(0)
            except OSError as e:
                results.append(e.errno)
            if len(results) >= 20:
                go.set()

    def pusher(i):
        go.wait(5)
        try:
            push_tag(m.root, REPO, 'v5', pushed[i], seq='28' if i else '31')
            push_results[i] = 0
        except OSError as e:
            push_results[i] = e.errno

    a = threading.Thread(target=attacker, daemon=True)
    ps = [threading.Thread(target=pusher, args=(i,), daemon=True)
          for i in range(2)]
    a.start()
    for p in ps:
        p.start()
    for p in ps:
        p.join(20)
    time.sleep(0.1)
    stop.set()
    a.join(10)
    bad = sorted({errno.errorcode.get(r, r) for r in results
                  if r != errno.EPERM})
    assert bad == [], '%d of %d exchanges not EPERM: %s' % (
        sum(r != errno.EPERM for r in results), len(results), bad)
    # A 3.1 loser (pusher 0) whose temporary file's index entry was swept
    # by the winner's publish gets ENOENT at its rename (docs/design.md,
    # "No debris"); any other loser gets EPERM.
    assert (sorted(push_results.values()) in ([0, 0], [0, errno.EPERM]) or
            push_results == {0: errno.ENOENT, 1: 0}), push_results
    assert read(tag_link(m.broot, REPO, 'v5')) in [d.encode()
                                                   for d in pushed]
    assert os.listdir(m.backing / 'decoy') == ['current']
    assert os.listdir(m.backing / 'decoy' / 'current') == []


@pytest.mark.parametrize('kind', ['symlink', 'fifo', 'hardlinked'])
def test_special_file_renamed_over_in_use_revision_link(m, kind):
    """Rule 7b: a symlink (FIFO, file with two names) made outside the
    tree and renamed over an in-use revision link is refused with EPERM,
    not answered with a success that did nothing."""
    push_tag(m.root, REPO, 'v1', D1)
    src = m.mnt / 'evil'
    if kind == 'symlink':
        os.symlink('/etc/hostname', src)
    elif kind == 'fifo':
        os.mkfifo(src)
    else:
        src.write_bytes(D2.encode())
        os.link(src, m.mnt / 'evil2')
    link = rev_link(m.root, REPO, D1)
    before = snapshot(m.backing)
    try:
        os.rename(src, link)
    except OSError as e:
        assert e.errno == errno.EPERM, e
    else:
        moved = not os.path.lexists(m.backing / 'evil')
        raise AssertionError(
            'rename returned 0 and %s' % (
                'replaced the in-use revision link' if moved else
                'did nothing: a false success (source still there, '
                'revision link unchanged)'))
    finally:
        assert_same(before, m.backing)


def test_rename_current_away_under_open_first_publish(m):
    """Rule 7c: with a first protected tag's current/link open for
    writing, its current/ directory cannot be renamed away; the write
    then lands at the tag's own current/link."""
    link = tag_link(m.root, REPO, 'v7')
    os.makedirs(link.parent)
    fd = os.open(link, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        expect_errno(errno.EPERM, os.rename, link.parent,
                     link.parent.with_name('current.old'))
        os.ftruncate(fd, 0)
        assert os.write(fd, D3.encode()) == len(D3)
        os.fsync(fd)
    finally:
        os.close(fd)
    assert read(tag_link(m.broot, REPO, 'v7')) == D3.encode()
    assert not os.path.lexists(tag_dir(m.broot, REPO, 'v7') / 'current.old')


# ------------------------------------------------------------ rule 8

def sighup_owned(pid):
    """Has the process a SIGHUP disposition or mask of its own yet?"""
    bit = 1 << (signal.SIGHUP - 1)
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith(('SigBlk:', 'SigIgn:', 'SigCgt:')) and \
                        int(line.split()[1], 16) & bit:
                    return True
    except (FileNotFoundError, ProcessLookupError):
        pass
    return False


def _default_sighup():
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})


def test_sighup_storm_from_start(tlk):
    """Rule 8: SIGHUP sent in a tight loop from start-up (from the first
    instant the daemon owns SIGHUP: before main() no program can) for
    about 2 s leaves the daemon alive and mounted; SIGTERM then ends it
    with status 0 within 5 s and the mount is gone."""
    policy = tlk.write_policy(tlkutil.DEFAULT_POLICY)
    backing, mnt = tlk.tmpdir('backing'), tlk.tmpdir('mnt')
    log = tlk.base / 'sighup.log'
    cmd = [tlk.bin, '-f', '-o', 'policy=%s' % policy, str(backing),
           str(mnt)]
    with open(log, 'wb') as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                preexec_fn=_default_sighup)
    tlk.procs.append(proc)
    try:
        sent, owned_at = 0, None
        t0 = time.monotonic()
        while proc.poll() is None:
            now = time.monotonic()
            if owned_at is None:
                assert now - t0 < 10, 'the daemon never handled SIGHUP'
                if not sighup_owned(proc.pid):
                    continue
                owned_at = now
            if now - owned_at > 2.0:
                break
            try:
                os.kill(proc.pid, signal.SIGHUP)
                sent += 1
            except ProcessLookupError:
                break
        assert proc.poll() is None, (
            'daemon exited (status %s) after %d SIGHUPs; log:\n%s'
            % (proc.returncode, sent, log.read_text(errors='replace')[-3000:]))
        deadline = time.monotonic() + 10
        while not mounted_fuse(mnt) and proc.poll() is None and \
                time.monotonic() < deadline:
            time.sleep(0.02)
        assert mounted_fuse(mnt), 'not mounted after the SIGHUP storm'
        assert proc.poll() is None, 'daemon died after the storm'
        assert sent > 100, sent
        os.stat(mnt)  # answers (no open handle left for SIGTERM to race)
        proc.send_signal(signal.SIGTERM)
        try:
            status = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            raise AssertionError('daemon still running 5 s after SIGTERM')
        assert status == 0, 'exit status %s after SIGTERM; log:\n%s' % (
            status, log.read_text(errors='replace')[-3000:])
        assert not mounted_fuse(mnt), 'still mounted after SIGTERM'
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if mounted_fuse(mnt):
            subprocess.run(['fusermount3', '-u', '-z', str(mnt)],
                           capture_output=True)
        if mounted_fuse(mnt):
            subprocess.run(['umount', '-l', str(mnt)], capture_output=True)


# ------------------------------------------------------------ rule 9

@pytest.mark.parametrize('case', ['hardlink_to_mutable_tag', 'symlink_link',
                                  'open_regular_file', 'symlink_current'])
def test_directory_carrying_things_renamed_into_tag(m, tlk, case):
    """Rule 9: a directory made at the mount root that carries a hard
    link, a symlink or an open file as current/link (or a symlinked
    current/) is not renamed into a tag."""
    push_tag(m.root, REPO, 'v1', D1)
    push_tag(m.root, SCR, 'v1', D2)
    x = m.mnt / 'x'
    fd = None
    if case == 'hardlink_to_mutable_tag':
        # Made in the backing: through the mount rule 1 refuses it.
        os.makedirs(m.backing / 'x' / 'current')
        os.link(tag_link(m.broot, SCR, 'v1'), m.backing / 'x/current/link')
    elif case == 'symlink_link':
        os.makedirs(x / 'current')
        os.symlink('/etc/hostname', x / 'current' / 'link')
    elif case == 'open_regular_file':
        os.makedirs(x / 'current')
        fd = os.open(x / 'current' / 'link', os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, D2.encode())
    else:
        elsewhere = tlk.tmpdir('elsewhere')
        (elsewhere / 'link').write_bytes(D2.encode())
        os.mkdir(x)
        os.symlink(str(elsewhere), x / 'current')
    try:
        before = snapshot(m.backing)
        expect_errno(errno.EPERM, os.rename, x, tag_dir(m.root, REPO, 'v9'))
        assert not os.path.lexists(tag_dir(m.broot, REPO, 'v9'))
        assert_same(before, m.backing)
    finally:
        if fd is not None:
            os.close(fd)


# ------------------------------------------------------------ rule 10

def test_hardlink_in_use_revision_link_to_mutable_tag(m):
    """Rule 10: the revision link a protected tag points to is not hard
    linked to a mutable repository's tag link position, in any form."""
    push_tag(m.root, REPO, 'v1', D1)
    src = rev_link(m.root, REPO, D1)
    dst = tag_link(m.root, SCR, 'v1')
    os.makedirs(dst.parent)
    before = snapshot(m.backing)
    for how in sorted(LINKERS):
        expect_errno(errno.EPERM, LINKERS[how], src, dst)
        assert_same(before, m.backing, how)


def test_linkat_of_fresh_protected_link_fd(m):
    """Rule 10: the descriptor that just created a protected link is not
    hard linked to a name outside the tree (AT_EMPTY_PATH, /proc)."""
    link = tag_link(m.root, REPO, 'v2')
    os.makedirs(link.parent)
    fd = os.open(link, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        os.ftruncate(fd, 0)
        assert os.write(fd, D2.encode()) == len(D2)
        os.fsync(fd)
        assert read(tag_link(m.broot, REPO, 'v2')) == D2.encode()
        before = snapshot(m.backing)
        expect_errno(errno.EPERM, linkat, fd, '', AT_FDCWD,
                     m.mnt / 'stolen', AT_EMPTY_PATH)
        assert_same(before, m.backing, 'AT_EMPTY_PATH')
        expect_errno(errno.EPERM, linkat, AT_FDCWD, '/proc/self/fd/%d' % fd,
                     AT_FDCWD, m.mnt / 'stolen2', AT_SYMLINK_FOLLOW)
        assert_same(before, m.backing, '/proc/self/fd')
    finally:
        close_quietly(fd)
    assert read(tag_link(m.broot, REPO, 'v2')) == D2.encode()


# ------------------------------------------------------- copies (may pass)

def make_registry_tree(top):
    v2 = Path(top) / V2
    blob = b'{"layers": []}\n'
    bd = 'sha256:' + hashlib.sha256(blob).hexdigest()
    put(v2 / 'blobs' / 'sha256' / hexpart(bd)[:2] / hexpart(bd) / 'data',
        blob)
    for repo, tags in ((REPO, {'v1': D1, 'v2': D2, 'latest': D2}),
                       (SCR, {'v1': D3, 'latest': D3})):
        for tag, d in tags.items():
            put(tag_link(v2, repo, tag), d.encode())
            put(index_link(v2, repo, tag, d), d.encode())
            put(rev_link(v2, repo, d), d.encode())
        put(layer_link(v2, repo, bd), bd.encode())


def test_cp_and_rsync_copy_a_registry_tree(tlk):
    """May pass on the old daemon. `cp -a` and `rsync -a` (twice) of a
    small registry tree from outside into the mount still work and
    reproduce the bytes."""
    src = tlk.tmpdir('src')
    make_registry_tree(src)
    want = snapshot(src / 'docker')
    m = tlk.mount()
    r = subprocess.run(['cp', '-a', str(src / 'docker'), str(m.mnt) + '/'],
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    assert snapshot(m.backing / 'docker') == want
    assert snapshot(m.mnt / 'docker') == want
    assert shutil.which('rsync'), 'rsync is missing: scripts/deps.sh installs it'
    m2 = tlk.mount()
    for _ in range(2):
        r = subprocess.run(['rsync', '-a', str(src) + '/', str(m2.mnt) + '/'],
                           capture_output=True)
        assert r.returncode == 0, r.stderr
        assert snapshot(m2.backing / 'docker') == want


# ------------------------------------------------- found in review (rule 2)

def _as_user(uid, fn, *args):
    """Run fn(*args) in a child process with uid/gid `uid`; its OSError
    errno (0 on success) comes back as the exit status."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.setgid(uid)
            os.setuid(uid)
            fn(*args)
        except OSError as e:
            code = e.errno or 255
        except BaseException:
            code = 255
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.parametrize('seq', ['28', '31'])
def test_non_root_registry_rewrites_its_links(m, seq):
    """A registry that does not run as root (Debian's) keeps owning the
    links it publishes: a mutable tag pushed three times and an identical
    re-push of a protected tag all succeed, and the files stay its own."""
    uid = 65534
    os.chown(m.backing, uid, uid)
    for d in ('docker', 'docker/registry', 'docker/registry/v2'):
        os.makedirs(m.backing / d, exist_ok=True)
        os.chown(m.backing / d, uid, uid)
    w = write_link_28 if seq == '28' else write_link_31
    for dg in (D1, D2, D3):
        assert _as_user(uid, w, tag_link(m.root, REPO, 'latest'), dg) == 0
    assert read(tag_link(m.broot, REPO, 'latest')) == D3.encode()
    assert os.stat(tag_link(m.broot, REPO, 'latest')).st_uid == uid
    for _ in range(2):
        assert _as_user(uid, push_tag, m.root, REPO, 'v1', D1, seq) == 0
    assert read(tag_link(m.broot, REPO, 'v1')) == D1.encode()
    for p in (tag_link(m.broot, REPO, 'v1'), rev_link(m.broot, REPO, D1)):
        assert os.stat(p).st_uid == uid, p
    assert _as_user(uid, w, tag_link(m.root, REPO, 'v1'), D2) == errno.EPERM
    assert read(tag_link(m.broot, REPO, 'v1')) == D1.encode()


def test_hard_link_pair_reached_through_an_upload_name(m):
    """Rule 2: a hard link made behind the daemon's back between an upload
    file and a protected tag's link cannot be written through the upload
    name either (the registry never makes hard links in its tree)."""
    push_tag(m.root, REPO, 'v1', D1)
    up = m.broot / 'repositories' / REPO / '_uploads/u1'
    os.makedirs(up)
    os.link(tag_link(m.broot, REPO, 'v1'), up / 'data')
    subprocess.run(['sh', '-c', 'echo 2 > /proc/sys/vm/drop_caches'])
    before = snapshot(m.backing)
    p = m.root / 'repositories' / REPO / '_uploads/u1/data'
    refused(open_close, p, os.O_WRONLY)
    refused(os.truncate, p, 0)
    assert read(tag_link(m.broot, REPO, 'v1')) == D1.encode()
    assert_same(before, m.backing, 'write through the second name')


def test_symlinked_repositories_directory_is_not_followed(m):
    """Rule 2: a symlink standing for repositories/ (made in the backing)
    is not followed, so no tag can be reached where it is not judged."""
    elsewhere = m.mnt / 'elsewhere'
    os.makedirs(elsewhere / 'test/example/_manifests/tags')
    os.makedirs(m.broot)
    os.symlink(str(elsewhere), m.broot / 'repositories')
    before = snapshot(m.backing)
    fails(write_link_28, tag_link(m.root, REPO, 'v1'), D1)
    assert_same(before, m.backing, 'write through repositories -> elsewhere')


@pytest.mark.parametrize('repo', [REPO, SCR], ids=['immutable', 'mutable'])
def test_planted_symlink_at_revision_link_not_replaced_by_rename(m, repo):
    """Rule 2: a 3.1 rename onto a revision link that is a planted symlink
    in an immutable repository is refused, not published over it (in a
    mutable repository the registry's own content replaces it)."""
    victim = m.backing / 'victim'
    victim.write_bytes(b'victim')
    blink = rev_link(m.broot, repo, D1)
    os.makedirs(blink.parent)
    os.symlink(str(victim), blink)
    before = snapshot(m.backing)
    if repo == REPO:
        fails(write_link_31, rev_link(m.root, repo, D1), D1)
        assert_same(before, m.backing, '3.1 rename over the symlink')
        assert os.path.islink(blink)
    else:
        write_link_31(rev_link(m.root, repo, D1), D1)
        assert not os.path.islink(blink)
        assert read(blink) == D1.encode()
    assert read(victim) == b'victim'


def test_long_file_renamed_onto_a_mutable_tag_is_refused(m):
    """A link holds 71 bytes: a longer file renamed onto even a mutable
    tag's link is refused with EINVAL (it was copied cut to 72 bytes)."""
    push_tag(m.root, SCR, 'v1', D1)
    src = tag_link(m.root, SCR, 'v1').with_name('link.long.tmp')
    src.write_bytes(D2.encode() + b'\n' + b'x' * 100)
    before = snapshot(m.backing)
    refused(os.rename, src, tag_link(m.root, SCR, 'v1'), err=errno.EINVAL)
    assert read(tag_link(m.broot, SCR, 'v1')) == D1.encode()
    assert_same(before, m.backing, 'long rename')


@pytest.mark.parametrize('tmpname', ['link.tmp', 'link.0123-abcd.tmp'])
@pytest.mark.parametrize('kind', ['tag', 'revision'])
def test_descriptor_of_a_file_renamed_onto_a_link(m, kind, tmpname):
    """Rule 6 (found by the red team): a file renamed onto a link is
    published as a copy; a descriptor still open on the renamed file can
    neither change what readers of the link see (the kernel's dentry moved
    with the rename) nor be told its writes succeeded."""
    link = (tag_link(m.root, REPO, 'v9') if kind == 'tag'
            else rev_link(m.root, REPO, D3))
    blink = m.broot / link.relative_to(m.root)
    good = D1 if kind == 'tag' else D3
    os.makedirs(link.parent)
    tmp = link.with_name(tmpname)
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, good.encode())
        os.fsync(fd)
        os.rename(tmp, link)
        assert read(blink) == good.encode()
        refused(os.ftruncate, fd, 0)
        refused(os.pwrite, fd, D2.encode(), 0)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert read(link) == good.encode()
            time.sleep(0.1)
    finally:
        close_quietly(fd)
    assert read(blink) == good.encode()
