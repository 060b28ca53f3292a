# SPDX-License-Identifier: MIT
"""DESIGN "What immutable means at the storage layer", rules 1-5 and 7,
through a real mount. Every refusal is checked twice: the error the caller
gets, and the bytes of the link in the backing directory afterwards."""
import errno
import json
import os
import subprocess
import sys
import threading

import pytest

import tlkutil

from tlkutil import (close_quietly, OVERWRITE_SENTENCE, RENAME_EXCHANGE, renameat2, Poller, digest, expect_errno,
                     hexpart, index_link, push_tag, read, rev_link,
                     tag_dir, tag_link, write_link, write_link_28,
                     write_link_31)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = 'test/example'
D1, D2, D3 = digest(1), digest(2), digest(3)
SEQS = ['28', '31']
# Steps whose error reaches the registry's client (2.8 ignores close).
EARLY_STEPS = ('mkdir', 'open', 'ftruncate', 'write', 'fsync', 'fsync2',
               'rename')

# The conftest policy, plus every repository under lib/ immutable.
RULES_POLICY = tlkutil.DEFAULT_POLICY + """\
  - name: "lib/**"
    immutable: true
"""

NO_DELETE_PROTECTION = """\
version: 1
defaults:
  protect_delete: false
repositories:
  - name: test/example
    immutable: true
"""


@pytest.fixture
def pm(tlk):
    """A mount where test/example:v1 -> D1 exists (pushed through it)."""
    m = tlk.mount(policy=RULES_POLICY, audit=True)
    push_tag(m.root, REPO, 'v1', D1)
    assert read(tag_link(m.broot, REPO, 'v1')) == D1.encode()
    return m


def assert_intact(m, repo=REPO, tag='v1', dgst=D1):
    """The tag, its index entry and its revision are exactly as pushed,
    in the backing directory and through the mount."""
    want = dgst.encode()
    assert read(tag_link(m.broot, repo, tag)) == want
    assert read(tag_link(m.root, repo, tag)) == want
    assert os.stat(tag_link(m.root, repo, tag)).st_size == len(want)
    assert read(index_link(m.broot, repo, tag, dgst)) == want
    assert read(rev_link(m.broot, repo, dgst)) == want


def refused(fn, *args, err=errno.EPERM):
    e = expect_errno(err, fn, *args)
    step = getattr(e, 'step', None)
    assert step is None or step in EARLY_STEPS, (
        'the error came only from %s(); the registry ignores that' % step)
    return e


# ------------------------------------------------------------ rule 1, 2

@pytest.mark.parametrize('seq', SEQS)
def test_new_protected_tag_is_created(tlk, seq):
    m = tlk.mount(policy=RULES_POLICY)
    push_tag(m.root, REPO, 'v1', D1, seq=seq)
    assert_intact(m)
    assert os.listdir(tag_link(m.broot, REPO, 'v1').parent) == ['link']
    assert os.stat(tag_link(m.broot, REPO, 'v1')).st_size == 71


def test_empty_link_counts_as_absent(tlk):
    m = tlk.mount(policy=RULES_POLICY)
    link = tag_link(m.broot, REPO, 'v1')
    os.makedirs(link.parent)
    link.write_bytes(b'')
    push_tag(m.root, REPO, 'v1', D1)
    assert read(link) == D1.encode()


@pytest.mark.parametrize('seq', SEQS)
def test_identical_rewrite_succeeds(pm, seq):
    for _ in range(3):
        push_tag(pm.root, REPO, 'v1', D1, seq=seq)
    assert_intact(pm)
    assert os.listdir(tag_link(pm.broot, REPO, 'v1').parent) == ['link']


# --------------------------------------------------------------- rule 3

def test_overwrite_28_refused_before_close(pm):
    e = refused(write_link_28, tag_link(pm.root, REPO, 'v1'), D2)
    assert e.step in ('open', 'ftruncate', 'write'), e.step
    assert_intact(pm)


def test_overwrite_31_refused(pm):
    refused(write_link_31, tag_link(pm.root, REPO, 'v1'), D2)
    assert_intact(pm)


@pytest.mark.parametrize('seq', SEQS)
def test_whole_push_of_other_digest_refused_without_stray_index(pm, seq):
    refused(push_tag, pm.root, REPO, 'v1', D2, seq)
    assert_intact(pm)
    assert not index_link(pm.broot, REPO, 'v1', D2).exists()
    assert not index_link(pm.broot, REPO, 'v1', D2).parent.exists()


def test_o_trunc_refused(pm):
    link = tag_link(pm.root, REPO, 'v1')
    try:
        fd = os.open(link, os.O_WRONLY | os.O_TRUNC)
    except OSError as e:
        assert e.errno == errno.EPERM
    else:
        # Allowed to open: then the truncation must not be applied and the
        # write of other content must fail before close.
        try:
            assert read(tag_link(pm.broot, REPO, 'v1')) == D1.encode()
            expect_errno(errno.EPERM, os.write, fd, D2.encode())
        finally:
            close_quietly(fd)
    assert_intact(pm)
    # open(O_TRUNC) and close without writing leaves it intact too.
    try:
        os.close(os.open(link, os.O_WRONLY | os.O_TRUNC))
    except OSError as e:
        assert e.errno == errno.EPERM
    assert_intact(pm)
    # Python's open('wb') is O_TRUNC too.
    def pywrite():
        with open(link, 'wb') as f:
            f.write(D2.encode())
    expect_errno(errno.EPERM, pywrite)
    assert_intact(pm)


@pytest.mark.parametrize('size', [0, 10, 70, 72, 4096])
def test_truncate_refused(pm, size):
    link = tag_link(pm.root, REPO, 'v1')
    expect_errno(errno.EPERM, os.truncate, link, size)
    assert_intact(pm)
    # ftruncate on a write handle is step one of 2.8's (identical)
    # rewrite, so it may be accepted; but it must not reach the backing
    # link, and closing without a write must not publish it.
    fd = os.open(link, os.O_RDWR)
    try:
        try:
            os.ftruncate(fd, size)
        except OSError as e:
            assert e.errno == errno.EPERM, e
        assert read(tag_link(pm.broot, REPO, 'v1')) == D1.encode()
        assert read(link) == D1.encode()
    finally:
        close_quietly(fd)
    assert_intact(pm)


def test_truncate_to_same_size_allowed(pm):
    os.truncate(tag_link(pm.root, REPO, 'v1'), 71)
    assert_intact(pm)


def test_pwrite_in_middle_refused(pm):
    link = tag_link(pm.root, REPO, 'v1')
    fd = os.open(link, os.O_WRONLY)
    try:
        def pwrite_sync():
            os.pwrite(fd, b'ff', 20)
            os.fsync(fd)
        expect_errno(errno.EPERM, pwrite_sync)
    finally:
        close_quietly(fd)
    assert_intact(pm)
    # An identical pwrite in the middle is not a change.
    fd = os.open(link, os.O_WRONLY)
    try:
        os.pwrite(fd, D1.encode()[20:30], 20)
        os.fsync(fd)
    finally:
        os.close(fd)
    assert_intact(pm)


def test_unlink_refused(pm):
    expect_errno(errno.EPERM, os.unlink, tag_link(pm.root, REPO, 'v1'))
    assert_intact(pm)


@pytest.mark.parametrize('rel', [
    'repositories/test/example/_manifests/tags/v1/current',
    'repositories/test/example/_manifests/tags/v1',
    'repositories/test/example/_manifests/tags',
    'repositories/test/example/_manifests',
    'repositories/test/example',
    'repositories/test',
    'repositories',
])
def test_rm_rf_refused(pm, rel):
    # Something removable next to it, so rm really walks the tree.
    push_tag(pm.root, 'test/other', 'v1', D2)
    r = subprocess.run(['rm', '-rf', str(pm.root / rel)], capture_output=True,
                       env=dict(os.environ, LC_ALL='C'))
    assert r.returncode != 0, 'rm -rf %s succeeded' % rel
    assert b'Operation not permitted' in r.stderr, r.stderr
    assert_intact(pm)


T = 'docker/registry/v2/repositories/test/example/_manifests/tags/v1'


@pytest.mark.parametrize('src,dst', [
    (T + '/current/link', T + '/current/link.old'),
    (T + '/current/link', 'stolen'),
    (T + '/current', T + '/current.old'),
    (T, T + '-moved'),
    ('docker/registry/v2/repositories/test/example',
     'docker/registry/v2/repositories/test/moved'),
    ('docker/registry/v2/repositories/test',
     'docker/registry/v2/repositories/test2'),
    ('docker/registry/v2/repositories', 'docker/registry/v2/repos.old'),
    ('docker/registry/v2', 'docker/registry/v2.old'),
    ('docker', 'docker.old'),
])
def test_rename_away_refused(pm, src, dst):
    expect_errno(errno.EPERM, os.rename, pm.mnt / src, pm.mnt / dst)
    assert not os.path.lexists(pm.backing / dst)
    assert_intact(pm)


def test_rename_exchange_refused(pm):
    other = pm.root / 'other'
    other.write_bytes(D2.encode())
    expect_errno(errno.EPERM, renameat2, tag_link(pm.root, REPO, 'v1'),
                 other, RENAME_EXCHANGE)
    assert read(pm.broot / 'other') == D2.encode()
    assert_intact(pm)


def test_rename_other_file_over_link_refused(pm):
    cur = tag_link(pm.root, REPO, 'v1').parent
    (cur / 'mine').write_bytes(D2.encode())
    expect_errno(errno.EPERM, os.rename, cur / 'mine', cur / 'link')
    assert_intact(pm)
    # The identical content may be renamed over it (3.1 re-push).
    (cur / 'same').write_bytes(D1.encode())
    os.rename(cur / 'same', cur / 'link')
    assert_intact(pm)


def test_hard_links_refused(pm):
    link = tag_link(pm.root, REPO, 'v1')
    expect_errno(errno.EPERM, os.link, link, pm.root / 'alias')
    assert not os.path.lexists(pm.broot / 'alias')
    # Another file linked in as a new protected tag.
    (pm.root / 'mine').write_bytes(D2.encode())
    new = tag_link(pm.root, REPO, 'v9')
    os.makedirs(new.parent)
    expect_errno(errno.EPERM, os.link, pm.root / 'mine', new)
    assert not os.path.lexists(tag_link(pm.broot, REPO, 'v9'))
    # A protected link linked in as another protected tag.
    expect_errno(errno.EPERM, os.link, link, new)
    assert not os.path.lexists(tag_link(pm.broot, REPO, 'v9'))
    assert os.stat(tag_link(pm.broot, REPO, 'v1')).st_nlink == 1
    assert_intact(pm)


def test_symlinks(pm):
    link = tag_link(pm.root, REPO, 'v1')
    sl = pm.mnt / 'sl'
    os.symlink(str(link), sl)
    assert read(sl) == D1.encode()
    refused(write_link_28, sl, D2)
    expect_errno(errno.EPERM, os.truncate, sl, 0)
    assert_intact(pm)
    # A symlink named current/link of a new protected tag.
    new = tag_link(pm.root, REPO, 'v9')
    os.makedirs(new.parent)
    (pm.root / 'mine').write_bytes(D2.encode())
    expect_errno(errno.EPERM, os.symlink, str(pm.root / 'mine'), new)
    assert not os.path.lexists(tag_link(pm.broot, REPO, 'v9'))


def test_decided_by_inode_hard_link_made_in_backing(pm):
    # Someone hard-linked the protected link in the backing directory,
    # bypassing the daemon; writing through that other name is still an
    # overwrite of the protected tag.
    os.link(tag_link(pm.broot, REPO, 'v1'), pm.broot / 'alias')
    assert read(pm.mnt / 'docker/registry/v2/alias') == D1.encode()
    refused(write_link_28, pm.root / 'alias', D2)
    expect_errno(errno.EPERM, os.truncate, pm.root / 'alias', 0)
    assert_intact(pm)


def test_shared_writable_mmap_of_protected_link_fails(pm):
    import mmap
    link = tag_link(pm.root, REPO, 'v1')
    with open(link, 'r+b') as f:
        try:
            mm = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED,
                           prot=mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError:
            pass
        else:
            try:
                mm[10:12] = b'ff'
                mm.flush()
            finally:
                mm.close()
            raise AssertionError('shared writable mmap of a protected link')
    assert_intact(pm)
    # Reading it through a private mapping is fine.
    with open(link, 'rb') as f:
        mm = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE,
                       prot=mmap.PROT_READ)
        assert mm[:] == D1.encode()
        mm.close()


# --------------------------------------------------------------- rule 4

def test_index_for_other_digest_refused(pm):
    other = index_link(pm.root, REPO, 'v1', D2)
    expect_errno(errno.EPERM, os.makedirs, other.parent)
    assert not index_link(pm.broot, REPO, 'v1', D2).parent.exists()
    # Even when the directory got there some other way.
    os.makedirs(index_link(pm.broot, REPO, 'v1', D2).parent)
    expect_errno(errno.EPERM, write_link_28, other, D2)
    expect_errno(errno.EPERM, write_link_31, other, D2)
    assert not index_link(pm.broot, REPO, 'v1', D2).exists()
    # The identical index entry is fine.
    write_link_28(index_link(pm.root, REPO, 'v1', D1), D1)
    write_link_31(index_link(pm.root, REPO, 'v1', D1), D1)
    assert_intact(pm)


# --------------------------------------------------------------- rule 5

def test_revision_of_protected_tag_kept(pm):
    expect_errno(errno.EPERM, os.unlink, rev_link(pm.root, REPO, D1))
    assert_intact(pm)
    # Other manifests' revision links are removable.
    write_link_28(rev_link(pm.root, REPO, D3), D3)
    os.unlink(rev_link(pm.root, REPO, D3))
    assert not rev_link(pm.broot, REPO, D3).exists()
    # A manifest only the mutable `latest` points to is removable.
    push_tag(pm.root, REPO, 'latest', D2)
    os.unlink(rev_link(pm.root, REPO, D2))
    assert not rev_link(pm.broot, REPO, D2).exists()
    assert_intact(pm)


# --------------------------------------------------------------- rule 7

@pytest.mark.parametrize('seq', SEQS)
def test_latest_stays_mutable(pm, seq):
    push_tag(pm.root, REPO, 'latest', D1, seq=seq)
    push_tag(pm.root, REPO, 'latest', D2, seq=seq)
    assert read(tag_link(pm.broot, REPO, 'latest')) == D2.encode()
    os.unlink(tag_link(pm.root, REPO, 'latest'))
    subprocess.run(['rm', '-rf', str(tag_dir(pm.root, REPO, 'latest'))],
                   check=True)
    assert not tag_dir(pm.broot, REPO, 'latest').exists()
    assert_intact(pm)


@pytest.mark.parametrize('repo,tag,protected', [
    ('team-a/scratch', 'v1', False),        # first matching entry wins
    ('team-a/app', 'v1', True),
    ('team-a/deep/er/app', '1.0', True),    # ** across components
    ('team-a/app', 'nightly', False),       # per-entry mutable_tags
    ('team-a/app', 'latest', False),
    ('team-a/app', 'sha256-abc.sig', False),
    ('team-a/app', 'sha256-abc.att', True),
    ('test/example/sub', 'v1', False),      # exact name, no prefix match
    ('test/example2', 'v1', False),
    ('unlisted', 'v1', False),
    ('lib/tags/current', '_manifests', True),   # tricky names parse right
    ('lib/index/link', 'current', True),
    ('lib/current', 'tags', True),
    ('lib/x', '_', True),
    ('other/tags/current', '_manifests', False),
])
@pytest.mark.parametrize('seq', SEQS)
def test_policy_matching(tlk, repo, tag, protected, seq):
    m = tlk.mount(policy=RULES_POLICY)
    push_tag(m.root, repo, tag, D1, seq=seq)
    assert read(tag_link(m.broot, repo, tag)) == D1.encode()
    assert read(index_link(m.broot, repo, tag, D1)) == D1.encode()
    link = tag_link(m.root, repo, tag)
    if protected:
        refused(write_link, link, D2, seq)
        expect_errno(errno.EPERM, os.unlink, link)
        assert read(tag_link(m.broot, repo, tag)) == D1.encode()
    else:
        write_link(link, D2, seq)
        assert read(tag_link(m.broot, repo, tag)) == D2.encode()
        os.unlink(link)
        assert not tag_link(m.broot, repo, tag).exists()
        push_tag(m.root, repo, tag, D3, seq=seq)
        subprocess.run(['rm', '-rf', str(m.root / 'repositories' / repo)],
                       check=True)
        assert not (m.broot / 'repositories' / repo).exists()


# ------------------------------------------------------ malformed content

@pytest.mark.parametrize('content', [
    b'garbage',
    (D2 + '\n').encode(),
    D2.upper().replace('SHA256', 'sha256').encode(),
    b'sha512:' + hexpart(D2).encode(),
    D2.encode()[:70],
    b'sha256:' + b'g' * 64,
])
@pytest.mark.parametrize('seq', SEQS)
def test_malformed_new_link_refused(tlk, content, seq):
    m = tlk.mount(policy=RULES_POLICY)
    link = tag_link(m.root, REPO, 'v1')
    refused(write_link, link, content, seq, err=errno.EINVAL)
    blink = tag_link(m.broot, REPO, 'v1')
    assert not blink.exists() or read(blink) == b'', read(blink)
    if link.exists():
        assert read(link) == b''
    # The tag can still be created properly.
    write_link(link, D1, seq)
    assert read(blink) == D1.encode()


# ------------------------------------------------- readers never see tears

def test_readers_never_see_empty_or_torn_link(pm):
    link = tag_link(pm.root, REPO, 'v1')
    readers = [Poller(link), Poller(tag_link(pm.broot, REPO, 'v1'))]
    for r in readers:
        r.start()
    failures = []
    try:
        for i in range(60):
            for fn, args in [(write_link_28, (link, digest(100 + i))),
                             (write_link_31, (link, digest(200 + i))),
                             (os.truncate, (link, 0))]:
                try:
                    fn(*args)
                    failures.append('%s succeeded' % fn.__name__)
                except OSError as e:
                    if e.errno != errno.EPERM:
                        failures.append('%s: %s' % (fn.__name__, e))
            try:
                with open(link, 'wb') as f:
                    f.write(digest(300 + i).encode())
                failures.append('open(wb) succeeded')
            except OSError as e:
                if e.errno != errno.EPERM:
                    failures.append('open(wb): %s' % e)
    finally:
        for r in readers:
            r.stop()
    assert failures == []
    for r in readers:
        assert r.reads > 50
        assert r.errors == {}, r.errors
        assert set(r.seen) == {D1.encode()}, {k: v for k, v in r.seen.items()}
    assert_intact(pm)


# ---------------------------------------------------------- log and audit

CHILD_28 = '''
import sys
sys.path.insert(0, %r)
import tlkutil
try:
    tlkutil.write_link_28(sys.argv[1], sys.argv[2])
except OSError as e:
    sys.exit(e.errno)
''' % HERE


@pytest.mark.parametrize('seq', SEQS)
def test_refusal_log_line(pm, seq):
    start = pm.log_mark()
    child = subprocess.Popen([sys.executable, '-c',
                              CHILD_28.replace('write_link_28',
                                               'write_link_' + seq),
                              str(tag_link(pm.root, REPO, 'v1')), D2])
    assert child.wait(30) == errno.EPERM
    line = pm.wait_line('refused', REPO, 'v1', D1, D2, 'pid %d' % child.pid,
                        OVERWRITE_SENTENCE, start=start)
    assert line.count('\n') == 0
    assert_intact(pm)


def test_no_refusal_logged_for_allowed_writes(pm):
    start = pm.log_mark()
    push_tag(pm.root, REPO, 'v1', D1)
    push_tag(pm.root, REPO, 'v2', D2, seq='31')
    push_tag(pm.root, REPO, 'latest', D3)
    push_tag(pm.root, REPO, 'latest', D1)
    write_link_28(pm.root / 'plain', b'x')
    # A later refusal shows up, and is the only one logged since start.
    expect_errno(errno.EPERM, write_link_28, tag_link(pm.root, REPO, 'v2'), D3)
    pm.wait_line('refused', 'v2', start=start)
    refusals = [l for l in pm.log_text()[start:].splitlines()
                if 'refused' in l]
    assert len(refusals) == 1, refusals


def audit_records(path):
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


def verify(tlk, path):
    r = tlk.run(['--verify-audit', path])
    return r.returncode, (r.stdout + r.stderr).decode(errors='replace')


def test_audit_log_records_refusals_and_detects_edits(pm, tlk):
    import re
    import time
    expect_errno(errno.EPERM, write_link_28, tag_link(pm.root, REPO, 'v1'), D2)
    expect_errno(errno.EPERM, os.unlink, tag_link(pm.root, REPO, 'v1'))
    deadline = time.monotonic() + 5
    while True:
        recs = audit_records(pm.audit)
        hit = [r for r in recs
               if {REPO, 'v1', D1, D2} <= set(map(str, r.values()))
               and 'refuse' in ' '.join(map(str, r.values()))]
        if hit or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert hit, 'no refusal record naming %s v1 %s %s in %s' % (
        REPO, D1, D2, recs)
    assert len(recs) >= 2
    rc, out = verify(tlk, pm.audit)
    assert rc == 0, out
    pm.unmount()
    lines = pm.audit.read_text().splitlines(keepends=True)
    n = next(i for i, l in enumerate(lines, 1) if D2 in l)
    edited = list(lines)
    edited[n - 1] = lines[n - 1].replace(D2, D3)
    pm.audit.write_text(''.join(edited))
    rc, out = verify(tlk, pm.audit)
    assert rc == 1, out
    assert re.search(r'(line\s*|:)%d\b' % n, out), out
    # Dropping the first record breaks the chain too.
    pm.audit.write_text(''.join(lines[1:]))
    rc, out = verify(tlk, pm.audit)
    assert rc == 1, out
    pm.audit.write_text(''.join(lines))
    assert verify(tlk, pm.audit)[0] == 0


# ---------------------------------------------------------- protect_delete

@pytest.mark.parametrize('seq', SEQS)
def test_protect_delete_false_allows_delete_not_overwrite(tlk, seq):
    m = tlk.mount(policy=NO_DELETE_PROTECTION)
    push_tag(m.root, REPO, 'v1', D1, seq=seq)
    refused(write_link, tag_link(m.root, REPO, 'v1'), D2, seq)
    expect_errno(errno.EPERM, os.truncate, tag_link(m.root, REPO, 'v1'), 0)
    assert_intact(m)
    # Deleting the manifest's revision, then the tag, is allowed.
    os.unlink(rev_link(m.root, REPO, D1))
    assert not rev_link(m.broot, REPO, D1).exists()
    os.unlink(tag_link(m.root, REPO, 'v1'))
    assert not tag_link(m.broot, REPO, 'v1').exists()
    push_tag(m.root, REPO, 'v2', D2, seq=seq)
    subprocess.run(['rm', '-rf', str(tag_dir(m.root, REPO, 'v2'))],
                   check=True)
    assert not tag_dir(m.broot, REPO, 'v2').exists()
    # A deleted tag can be created again, with any digest.
    push_tag(m.root, REPO, 'v1', D3, seq=seq)
    assert read(tag_link(m.broot, REPO, 'v1')) == D3.encode()
    refused(write_link, tag_link(m.root, REPO, 'v1'), D1, seq)
    assert read(tag_link(m.broot, REPO, 'v1')) == D3.encode()


def test_concurrent_reader_and_allowed_identical_rewrites(pm):
    link = tag_link(pm.root, REPO, 'v1')
    p = Poller(link)
    p.start()
    errs = []

    def rewrite(seq):
        try:
            for _ in range(30):
                write_link(link, D1, seq)
        except OSError as e:
            errs.append(e)
    ts = [threading.Thread(target=rewrite, args=(s,)) for s in SEQS * 2]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    p.stop()
    assert errs == []
    assert set(p.seen) == {D1.encode()}, p.seen
    assert p.errors == {}
    assert_intact(pm)
