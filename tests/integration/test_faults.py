# SPDX-License-Identifier: MIT
"""An operator's bad day (issue 8, items 4 and 6): the policy file replaced
by a FIFO, a directory or a symlink loop, deleted, or named by a relative
path; the audit log's filesystem full. The daemon keeps serving with the
last good policy, logs each change of the file's state once, and loses no
audit record it could keep: what could not be written appears later,
behind a gap record that --verify-audit shows."""
import errno
import json
import os
import re
import subprocess
import threading
import time

import pytest

from tlkutil import (DEFAULT_POLICY, OPEN_POLICY, digest, mounted_fuse,
                     push_tag, read, tag_link, write_link_28)

REPO = 'test/example'
NOT_KEPT = '; keeping the last good policy'


def in_time(fn, timeout=5.0):
    """Run fn in a thread; fail (instead of hanging the suite) when it has
    not returned within `timeout` seconds. Returns what fn returned."""
    out = {}

    def run():
        try:
            out['value'] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised below
            out['error'] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise AssertionError('%s did not return within %ss (a request is '
                             'blocked in the daemon)' % (fn, timeout))
    if 'error' in out:
        raise out['error']
    return out.get('value')


def release_fifo(path):
    """Let readers blocked opening a FIFO go (an older daemon opens it
    blocking): connect as a writer and close, a few times."""
    for _ in range(20):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return
        os.close(fd)
        time.sleep(0.05)


class Tag:
    """test/example:v1, protected by DEFAULT_POLICY, and attempts to point
    it elsewhere; the backing file says what happened."""

    def __init__(self, m):
        self.m = m
        self.n = 0
        self.current = digest('start')
        push_tag(m.root, REPO, 'v1', self.current)

    def overwrite(self):
        """Try once; True when refused (EPERM, link intact)."""
        self.n += 1
        new = digest('attempt%d' % self.n)

        def attempt():
            try:
                write_link_28(tag_link(self.m.root, REPO, 'v1'), new)
            except OSError as e:
                assert e.errno == errno.EPERM, e
                return True
            return False

        refused = in_time(attempt)
        on_disk = read(tag_link(self.m.broot, REPO, 'v1')).decode()
        if not refused:
            self.current = new
        assert on_disk == self.current
        return refused


# ------------------------------------------------------------ policy file

def make_fifo(p):
    tmp = p.parent / 'fifo.tmp'
    os.mkfifo(tmp)
    os.rename(tmp, p)


def make_dir(p):
    os.unlink(p)
    os.mkdir(p)


def make_loop(p):
    """policy.yaml -> loop -> policy.yaml, swapped in by a rename."""
    os.symlink(p.name, p.parent / 'loop')
    os.symlink('loop', p.parent / 'new')
    os.rename(p.parent / 'new', p)


FAULTS = {
    'fifo': (make_fifo, 'not a regular file: a FIFO'),
    'directory': (make_dir, 'not a regular file: a directory'),
    'deleted': (os.unlink, 'cannot open: No such file or directory'),
    'symlink-loop': (make_loop, 'cannot open: Too many levels of symbolic '
                                'links (a symlink loop?)'),
}


def restore(p, text):
    """A new file renamed over whatever is there (a directory cannot be
    renamed over: it is removed first)."""
    if p.is_dir() and not p.is_symlink():
        os.rmdir(p)
    tmp = p.parent / 'policy.new'
    tmp.write_text(text)
    os.rename(tmp, p)


@pytest.mark.parametrize('fault', sorted(FAULTS))
def test_policy_file_fault(tlk, fault):
    make, reason = FAULTS[fault]
    m = tlk.mount(policy=DEFAULT_POLICY)
    p = m.policy
    tag = Tag(m)
    assert tag.overwrite()
    mark = m.log_mark()
    make(p)
    try:
        # Every operation goes on, with the last good policy in force.
        for _ in range(5):
            assert tag.overwrite()
        line = m.wait_line('policy %s: %s%s' % (p, reason, NOT_KEPT),
                           start=mark)
        assert ':0:0' not in line
        # Logged once, not at every operation nor at every watcher round
        # (every 2 s).
        time.sleep(2.5)
        assert tag.overwrite()
        assert m.log_text()[mark:].count(reason) == 1, m.log_text()[mark:]
        assert m.alive()
        # Valid again: logged once, and in force.
        mark = m.log_mark()
        restore(p, OPEN_POLICY)
        m.wait_line('policy %s valid again, loaded' % p, start=mark)
        assert not tag.overwrite()
    finally:
        if fault == 'fifo' and p.exists() and not p.is_file():
            release_fifo(p)


def test_policy_state_changes_logged_once_each(tlk):
    """valid -> invalid (line:column) -> deleted -> valid: one line each."""
    m = tlk.mount(policy=DEFAULT_POLICY)
    p = m.policy
    tag = Tag(m)
    mark = m.log_mark()
    restore(p, 'version: 1\nrepositories:\n  - name: test/example\n'
               '    immutable: maybe\n')
    assert tag.overwrite()
    m.wait_line('policy %s:4:16: ' % p, NOT_KEPT, start=mark)
    os.unlink(p)
    assert tag.overwrite()
    m.wait_line('policy %s: cannot open: No such file' % p, start=mark)
    restore(p, DEFAULT_POLICY)
    assert tag.overwrite()
    m.wait_line('policy %s valid again' % p, start=mark)
    time.sleep(2.5)
    assert tag.overwrite()
    log = m.log_text()[mark:]
    assert log.count('policy %s:4:16: ' % p) == 1, log
    assert log.count('cannot open') == 1, log
    assert log.count('valid again') == 1, log
    # The same fault again, after a good version, is a change again.
    os.unlink(p)
    assert tag.overwrite()
    deadline = time.monotonic() + 5
    while m.log_text()[mark:].count('cannot open') < 2:
        assert time.monotonic() < deadline, m.log_text()[mark:]
        time.sleep(0.05)


def test_check_policy_fifo_returns_at_once(tlk):
    d = tlk.tmpdir('fifo')
    fifo = d / 'policy.yaml'
    os.mkfifo(fifo)
    try:
        t0 = time.monotonic()
        r = tlk.run(['--check-policy', fifo], timeout=5)
        assert time.monotonic() - t0 < 5
        assert r.returncode == 1
        assert r.stderr.decode() == \
            '%s: not a regular file: a FIFO\n' % fifo
    finally:
        release_fifo(fifo)


def test_check_policy_file_errors_name_no_position(tlk):
    d = tlk.tmpdir('cli')
    missing = d / 'missing.yaml'
    r = tlk.run(['--check-policy', missing])
    assert r.returncode == 1
    assert r.stderr.decode() == \
        '%s: cannot open: No such file or directory\n' % missing
    r = tlk.run(['--check-policy', d])
    assert r.stderr.decode() == '%s: not a regular file: a directory\n' % d


def test_start_with_fifo_policy_fails_at_once(tlk):
    d = tlk.tmpdir('fifo')
    fifo = d / 'policy.yaml'
    os.mkfifo(fifo)
    backing, mnt = tlk.tmpdir('backing'), tlk.tmpdir('mnt')
    try:
        r = tlk.run(['-f', '-o', 'policy=%s' % fifo, backing, mnt],
                    timeout=5)
        assert r.returncode == 1
        assert 'policy %s: not a regular file: a FIFO' % fifo in \
            r.stderr.decode()
        assert not mounted_fuse(mnt)
    finally:
        release_fifo(fifo)


def daemon_pids(mnt):
    pids = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                args = f.read().split(b'\0')
        except OSError:
            continue
        if os.fsencode(str(mnt)) in args:
            pids.append(int(pid))
    return pids


def test_relative_policy_path_daemonised(tlk):
    """Started as a daemon (it changes to / then) with policy=policy.yaml:
    the path is resolved at start, so later edits apply."""
    d = tlk.tmpdir('rel')
    (d / 'policy.yaml').write_text(DEFAULT_POLICY)
    backing, mnt = tlk.tmpdir('backing'), tlk.tmpdir('mnt')
    r = tlk.run(['-o', 'policy=policy.yaml', backing, mnt], cwd=d)
    try:
        assert r.returncode == 0, r.stderr.decode()
        deadline = time.monotonic() + 10
        while not mounted_fuse(mnt):
            assert time.monotonic() < deadline, 'not mounted'
            time.sleep(0.05)
        root = mnt / 'docker/registry/v2'
        push_tag(root, REPO, 'v1', digest('a'))
        link = tag_link(root, REPO, 'v1')
        with pytest.raises(OSError) as e:
            write_link_28(link, digest('b'))
        assert e.value.errno == errno.EPERM
        (d / 'policy.yaml').write_text(OPEN_POLICY)  # an edit in place
        write_link_28(link, digest('b'))
        assert read(tag_link(backing / 'docker/registry/v2', REPO,
                             'v1')) == digest('b').encode()
        # Said before daemonising, on stderr: the path in force.
        assert 'policy %s/policy.yaml loaded' % d in r.stderr.decode()
    finally:
        pids = daemon_pids(mnt)
        subprocess.run(['fusermount3', '-u', str(mnt)], capture_output=True)
        deadline = time.monotonic() + 10
        while daemon_pids(mnt) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in daemon_pids(mnt):
            os.kill(pid, 9)
        if mounted_fuse(mnt):
            subprocess.run(['umount', '-l', str(mnt)], capture_output=True)
        assert pids, 'no daemon was running'


# ------------------------------------------------------- audit, disk full

@pytest.fixture
def small_fs(tlk):
    """A 64 KiB tmpfs for the audit log, so it can be filled."""
    d = tlk.tmpdir('smallfs')
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k,mode=0755',
                    'tmpfs', str(d)], check=True)
    yield d
    subprocess.run(['umount', '-l', str(d)], capture_output=True)


def fill(d):
    """Write a file until the filesystem is full; return it."""
    p = d / 'filler'
    with open(p, 'wb', buffering=0) as f:
        while True:
            try:
                f.write(b'x' * 4096)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
                return p


def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def verify(tlk, path):
    r = tlk.run(['--verify-audit', path])
    return r.returncode, r.stdout.decode() + r.stderr.decode()


def test_audit_full_disk_gap_record(tlk, small_fs):
    audit = small_fs / 'audit.jsonl'
    m = tlk.mount(policy=DEFAULT_POLICY, options=('audit_log=%s' % audit,))
    tag = Tag(m)
    assert tag.overwrite()
    filler = fill(small_fs)
    mark = m.log_mark()
    # More refusals than the last page of the log has room for.
    attempts = [digest('attempt%d' % (tag.n + i + 1)) for i in range(16)]
    for _ in attempts:
        assert tag.overwrite()
    down = m.wait_line('audit log: cannot write: No space left on device',
                       start=mark)
    assert 'Input/output error' not in down
    on_disk = [r.get('new') for r in records(audit)]
    missing = [a for a in attempts if a not in on_disk]
    assert missing, 'every refusal was written: the disk was not full'
    # Space returns; the next record brings the kept ones with it.
    os.unlink(filler)
    assert tag.overwrite()
    m.wait_line('audit log: writable again; wrote a gap record, then %d '
                'records late (0 dropped)' % len(missing), start=mark)
    log = m.log_text()[mark:]
    assert log.count('audit log: cannot write') == 1, log
    recs = records(audit)
    gaps = [i for i, r in enumerate(recs) if r.get('decision') == 'gap']
    assert len(gaps) == 1, recs
    gap = recs[gaps[0]]
    assert gap['late'] == len(missing) and gap['dropped'] == 0, gap
    assert gap['error'] == 'No space left on device', gap
    late = [r['new'] for r in recs[gaps[0] + 1:gaps[0] + 1 + gap['late']]]
    assert late == missing
    refused = [r['new'] for r in recs if r.get('decision') == 'refuse']
    assert [a for a in refused if a in attempts] == attempts
    rc, out = verify(tlk, audit)
    assert rc == 0, out
    assert re.search(r':%d: gap: %d records written late, 0 dropped \(audit '
                     r'log not writable from \S+ to \S+: No space left on '
                     r'device\)' % (gaps[0] + 1, len(missing)), out), out
    assert 'chain intact' in out


def test_audit_strict_refuses_new_protected_tag_while_full(tlk, small_fs):
    audit = small_fs / 'audit.jsonl'
    m = tlk.mount(policy=DEFAULT_POLICY,
                  options=('audit_log=%s' % audit, 'audit_strict'))
    push_tag(m.root, REPO, 'v0', digest('v0'))
    filler = fill(small_fs)
    refused = None
    for i in range(1, 60):
        tagname = 'v%d' % i
        try:
            in_time(lambda: push_tag(m.root, REPO, tagname, digest(tagname)))
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
            refused = tagname
            break
        # Allowed: its record is in the log already, not merely kept.
        assert any(r.get('tag') == tagname and r.get('reason') == 'create'
                   for r in records(audit)), tagname
    assert refused, 'audit_strict never refused a new protected tag'
    assert not tag_link(m.broot, REPO, refused).exists()
    m.wait_line('refused publish_link of %s:%s' % (REPO, refused),
                'audit_strict')
    # Mutable repositories and identical rewrites are not held up.
    push_tag(m.root, 'team-a/scratch', 'x', digest('x'))
    write_link_28(tag_link(m.root, REPO, 'v0'), digest('v0'))
    os.unlink(filler)
    push_tag(m.root, REPO, refused, digest(refused))
    assert read(tag_link(m.broot, REPO, refused)) == \
        digest(refused).encode()
    recs = records(audit)
    assert [r['reason'] for r in recs if r.get('tag') == refused] == \
        ['audit_down', 'create']
    rc, out = verify(tlk, audit)
    assert rc == 0, out


def test_audit_strict_needs_audit_log(tlk):
    p = tlk.write_policy(DEFAULT_POLICY)
    backing, mnt = tlk.tmpdir('backing'), tlk.tmpdir('mnt')
    r = tlk.run(['-f', '-o', 'policy=%s,audit_strict' % p, backing, mnt])
    assert r.returncode == 1
    assert 'audit_strict needs audit_log=FILE' in r.stderr.decode()
    assert not mounted_fuse(mnt)
