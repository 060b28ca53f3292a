# SPDX-License-Identifier: MIT
"""Live policy: edits in place, by rename and by ConfigMap symlink swap
apply to the very next operation without a remount; broken edits and a
deleted file keep the last good policy; SIGHUP reloads."""
import errno
import os
import signal

import pytest

from tlkutil import (digest, push_tag, read, tag_link, write_link_28,
                     write_link_31)

REPO = 'test/example'

IMMUTABLE = """\
version: 1
repositories:
  - name: test/example
    immutable: true
"""

MUTABLE = """\
version: 1
repositories:
  - name: test/example
    immutable: false
"""

BROKEN = {
    'yaml syntax': "version: 1\nrepositories:\n  - name: [test/example\n"
                   "    immutable: false\n",
    'unknown key': "version: 1\nrepositories:\n  - name: test/example\n"
                   "    immutable: false\n    imutable: false\n",
    'wrong type': "version: 1\nrepositories:\n  - name: test/example\n"
                  "    immutable: 7\n",
    'missing version': "repositories:\n  - name: test/example\n"
                       "    immutable: false\n",
    'empty file': "",
}

HOWS = ['inplace', 'rename', 'symlink-swap']


class Probe:
    """Attempts to move test/example:v1 to a new digest; says whether the
    attempt was refused, and checks the backing file either way."""

    def __init__(self, m):
        self.m = m
        self.n = 0
        push_tag(m.root, REPO, 'v1', digest('p0'))
        self.current = digest('p0')

    def is_protected(self, seq='28'):
        self.n += 1
        new = digest('p%d' % self.n)
        w = write_link_28 if seq == '28' else write_link_31
        try:
            w(tag_link(self.m.root, REPO, 'v1'), new)
        except OSError as e:
            assert e.errno == errno.EPERM, e
            assert read(tag_link(self.m.broot, REPO, 'v1')) == \
                self.current.encode()
            return True
        self.current = new
        assert read(tag_link(self.m.broot, REPO, 'v1')) == new.encode()
        return False


def mount(tlk, text, how):
    return tlk.mount(policy=text, policy_style='configmap'
                     if how == 'symlink-swap' else 'file')


@pytest.mark.parametrize('how', HOWS)
def test_toggle_applies_to_next_operation(tlk, how):
    m = mount(tlk, MUTABLE, how)
    p = Probe(m)
    assert not p.is_protected()
    for cycle in range(3):
        m.set_policy(IMMUTABLE, how)
        assert p.is_protected('28'), 'cycle %d: immutable not applied' % cycle
        assert p.is_protected('31')
        m.set_policy(MUTABLE, how)
        assert not p.is_protected('31'), 'cycle %d: mutable not applied' \
            % cycle
        assert not p.is_protected('28')
    assert m.alive()


@pytest.mark.parametrize('how', HOWS)
@pytest.mark.parametrize('kind', sorted(BROKEN))
def test_broken_edit_keeps_last_good_policy(tlk, how, kind):
    m = mount(tlk, IMMUTABLE, how)
    p = Probe(m)
    assert p.is_protected()
    start = m.log_mark()
    m.set_policy(BROKEN[kind], how)
    # The broken text says "mutable"; the gates must stay closed.
    assert p.is_protected()
    m.wait_line('keeping the last good policy', start=start)
    assert p.is_protected('31')
    # The same from the other side: open stays open.
    m.set_policy(MUTABLE, how)
    assert not p.is_protected()
    start = m.log_mark()
    m.set_policy(BROKEN[kind].replace('false', 'true'), how)
    assert not p.is_protected()
    m.wait_line('keeping the last good policy', start=start)
    assert not p.is_protected()
    # A good edit after a broken one applies again.
    m.set_policy(IMMUTABLE, how)
    assert p.is_protected()


def test_sighup_reloads(tlk):
    m = tlk.mount(policy=MUTABLE)
    p = Probe(m)
    assert not p.is_protected()
    m.set_policy(IMMUTABLE, 'rename')
    m.proc.send_signal(signal.SIGHUP)
    assert p.is_protected()
    assert m.alive(), 'SIGHUP killed the daemon'
    # SIGHUP with a broken file: logged, last good policy kept, still alive.
    start = m.log_mark()
    m.set_policy(BROKEN['unknown key'], 'rename')
    for _ in range(3):
        m.proc.send_signal(signal.SIGHUP)
    m.wait_line('keeping the last good policy', start=start)
    assert m.alive(), 'SIGHUP killed the daemon'
    assert p.is_protected()
    m.set_policy(MUTABLE, 'inplace')
    m.proc.send_signal(signal.SIGHUP)
    assert not p.is_protected()
    assert m.alive()


def test_mutable_tags_override(tlk):
    policy = """\
version: 1
defaults:
  mutable_tags: ["latest", "dev-*"]
repositories:
  - name: team/inherits
    immutable: true
  - name: team/overrides
    immutable: true
    mutable_tags: ["nightly"]
"""
    m = tlk.mount(policy=policy)
    for repo, tag, protected in [
            ('team/inherits', 'v1', True),
            ('team/inherits', 'latest', False),
            ('team/inherits', 'dev-7', False),
            ('team/inherits', 'nightly', True),
            ('team/overrides', 'v1', True),
            ('team/overrides', 'nightly', False),
            ('team/overrides', 'dev-7', True),
            ('team/overrides', 'latest', True)]:
        push_tag(m.root, repo, tag, digest(1))
        try:
            write_link_28(tag_link(m.root, repo, tag), digest(2))
            got = False
        except OSError as e:
            assert e.errno == errno.EPERM
            got = True
        assert got == protected, '%s:%s protected=%s' % (repo, tag, got)
        want = digest(1 if protected else 2).encode()
        assert read(tag_link(m.broot, repo, tag)) == want
    # A live edit that adds a mutable tag applies to the next operation.
    m.set_policy(policy.replace('["nightly"]', '["nightly", "v*"]'),
                 'rename')
    write_link_28(tag_link(m.root, 'team/overrides', 'v1'), digest(3))
    assert read(tag_link(m.broot, 'team/overrides', 'v1')) == \
        digest(3).encode()
    m.set_policy(policy, 'inplace')
    with pytest.raises(OSError) as ei:
        write_link_28(tag_link(m.root, 'team/overrides', 'v1'), digest(4))
    assert ei.value.errno == errno.EPERM
    assert read(tag_link(m.broot, 'team/overrides', 'v1')) == \
        digest(3).encode()


@pytest.mark.parametrize('how', ['file', 'symlink-swap'])
def test_deleted_policy_keeps_last_good(tlk, how):
    m = mount(tlk, IMMUTABLE, how)
    p = Probe(m)
    assert p.is_protected()
    os.unlink(m.policy)
    assert p.is_protected()
    assert p.is_protected('31')
    assert m.alive()
    # Putting a (new) file back is noticed.
    tmp = m.policy.parent / 'new.yaml'
    tmp.write_text(MUTABLE)
    os.rename(tmp, m.policy)
    assert not p.is_protected()
    m.set_policy(IMMUTABLE, 'inplace')
    assert p.is_protected()


def test_policy_dir_removed_and_restored(tlk):
    m = tlk.mount(policy=IMMUTABLE, policy_style='configmap')
    p = Probe(m)
    assert p.is_protected()
    d = m.policy.parent
    # ConfigMap update gone wrong: ..data points nowhere for a moment.
    os.symlink('..missing', d / '..tmp')
    os.rename(d / '..tmp', d / '..data')
    assert p.is_protected()
    m.set_policy(MUTABLE, 'symlink-swap')
    assert not p.is_protected()


def test_edit_applies_to_both_replicas(tlk):
    m1 = tlk.mount(policy=MUTABLE)
    m2 = tlk.mount_second(m1)
    p1 = Probe(m1)
    assert not p1.is_protected()
    m1.set_policy(IMMUTABLE, 'rename')
    for m in (m1, m2):
        with pytest.raises(OSError) as ei:
            write_link_31(tag_link(m.root, REPO, 'v1'), digest('other'))
        assert ei.value.errno == errno.EPERM
    assert read(tag_link(m1.broot, REPO, 'v1')) == p1.current.encode()
