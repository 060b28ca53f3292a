# SPDX-License-Identifier: MIT
"""Issue 8, items 5 and 9: no debris after a lost first push, and the
smaller defects found in review.

No debris (docs/design.md, "No debris"): distribution writes a tag's index
entry before its current/link, so two first pushes of different images to
one new protected tag can both write an index entry before either
publishes. The loser's current/link is refused; its index entry must not
stay. Checked twice: deterministically, by writing the files in the
registry's own order through the mount, and through a real docker-registry
with skopeo pushes racing many times.
"""
import errno
import json
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

import registry as R
from tlkutil import (digest, expect_errno, hexpart, index_link, read,
                     rev_link, tag_dir, tag_link, write_link)

REPO = 'test/example'


def audit_records(m):
    try:
        text = m.audit.read_text()
    except FileNotFoundError:
        return []
    return [json.loads(ln) for ln in text.splitlines() if ln.strip()]


def index_entries(root, repo, tag):
    """Names in <tag>/index/sha256/ ([] when there is no index)."""
    try:
        return sorted(os.listdir(tag_dir(root, repo, tag) / 'index'
                                 / 'sha256'))
    except FileNotFoundError:
        return []


def assert_clean_tag(m, tag, winner, repo=REPO):
    """The tree a user checks after the race: the tag points to the
    winner, and its index holds exactly one entry, the winner's."""
    assert read(tag_link(m.broot, repo, tag)) == winner.encode()
    assert index_entries(m.broot, repo, tag) == [hexpart(winner)], \
        'index of %s:%s: %s (current %s)' % (
            repo, tag, index_entries(m.broot, repo, tag), winner)
    assert os.listdir(index_link(m.broot, repo, tag, winner).parent) == \
        ['link']
    assert read(index_link(m.broot, repo, tag, winner)) == winner.encode()


def sweep_records(m, tag):
    return [r for r in audit_records(m)
            if r['op'] == 'sweep_index' and r.get('tag') == tag]


# ------------------------------------------------- deterministic interleaving

@pytest.mark.parametrize('seq', ['28', '31'])
@pytest.mark.parametrize('loser_first', [True, False],
                         ids=['loser-entry-first', 'winner-entry-first'])
def test_lost_first_push_leaves_no_index_entry(tlk, seq, loser_first):
    """Both pushes write revision and index entry, then the winner's
    current/link, then the loser's (refused): in the registry's order,
    as two concurrent manifest PUTs interleave."""
    m = tlk.mount(audit=True)
    tag = 'first'
    win, lose = digest('debris-win'), digest('debris-lose')
    order = [lose, win] if loser_first else [win, lose]
    for d in order:
        write_link(rev_link(m.root, REPO, d), d, seq)
        write_link(index_link(m.root, REPO, tag, d), d, seq)
    assert index_entries(m.broot, REPO, tag) == sorted(
        [hexpart(win), hexpart(lose)])
    mark = m.log_mark()
    write_link(tag_link(m.root, REPO, tag), win, seq)
    expect_errno(errno.EPERM, write_link, tag_link(m.root, REPO, tag), lose,
                 seq)
    assert_clean_tag(m, tag, win)
    # Both revisions stay (they are content, shared by every tag).
    assert read(rev_link(m.broot, REPO, lose)) == lose.encode()
    # Said once in the log and once in the audit log, naming the entry.
    line = m.wait_line('removed the index entry', hexpart(lose),
                       '%s:%s' % (REPO, tag), start=mark)
    assert win in line
    recs = sweep_records(m, tag)
    assert len(recs) == 1, recs
    assert recs[0]['decision'] == 'allow'
    assert recs[0]['reason'] == 'lost_race'
    assert recs[0]['old'] == win and recs[0]['new'] == lose
    r = tlk.run(['--verify-audit', str(m.audit)])
    assert r.returncode == 0, r.stdout + r.stderr


def test_loser_mid_write_when_winner_publishes(tlk):
    """The loser has made its index directory and holds its index link
    open (2.8: created, not yet written; 3.1: a temporary file written
    but not renamed) when the winner publishes: the loser's next step is
    refused and nothing of it stays."""
    m = tlk.mount()
    tag = 'midway'
    win = digest('mid-win')
    l28, l31 = digest('mid-lose-28'), digest('mid-lose-31')
    for d in (win, l28, l31):
        write_link(rev_link(m.root, REPO, d), d)
    # 2.8's loser: mkdir + open(O_CREAT), nothing written yet.
    p28 = index_link(m.root, REPO, tag, l28)
    os.makedirs(p28.parent)
    fd28 = os.open(p28, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    # 3.1's loser: link.<uuid>.tmp written in full, not yet renamed.
    p31 = index_link(m.root, REPO, tag, l31)
    os.makedirs(p31.parent)
    tmp31 = p31.parent / ('link.%s.tmp' % uuid.uuid4())
    with open(tmp31, 'wb') as f:
        f.write(l31.encode())
    # The winner: index entry, then current/link.
    write_link(index_link(m.root, REPO, tag, win), win)
    write_link(tag_link(m.root, REPO, tag), win)
    try:
        expect_errno(errno.EPERM, os.write, fd28, l28.encode())
    finally:
        try:
            os.close(fd28)
        except OSError:
            pass
    try:
        os.rename(tmp31, p31)
        raise AssertionError('the lost 3.1 index entry was renamed in')
    except OSError as e:
        assert e.errno in (errno.ENOENT, errno.EPERM), e
    assert_clean_tag(m, tag, win)
    # And the losers cannot start over.
    expect_errno(errno.EPERM, os.makedirs, p28.parent)
    assert_clean_tag(m, tag, win)


def test_only_first_publish_of_a_protected_tag_sweeps(tlk):
    """A mutable tag keeps its history of index entries, and so does a
    protected tag's identical re-push: only entries made while a protected
    tag was empty are a lost push's."""
    m = tlk.mount(audit=True)
    a, b = digest('hist-a'), digest('hist-b')
    for d in (a, b):
        write_link(rev_link(m.root, REPO, d), d)
        write_link(index_link(m.root, REPO, 'latest', d), d)
        write_link(tag_link(m.root, REPO, 'latest'), d)
    assert index_entries(m.broot, REPO, 'latest') == sorted(
        [hexpart(a), hexpart(b)])
    write_link(index_link(m.root, REPO, 'v1', a), a)
    write_link(tag_link(m.root, REPO, 'v1'), a)
    write_link(index_link(m.root, REPO, 'v1', a), a)
    write_link(tag_link(m.root, REPO, 'v1'), a)
    assert_clean_tag(m, 'v1', a)
    assert [r for r in audit_records(m) if r['op'] == 'sweep_index'] == []


def test_symlinked_entry_is_not_followed_or_removed(tlk):
    """An index entry made behind the daemon's back as a symlink is
    refused (rule 2), never followed: what it points to stays."""
    m = tlk.mount(audit=True)
    tag = 'aliased'
    win, other = digest('alias-win'), digest('alias-other')
    outside = Path(tlk.tmpdir('outside'))
    (outside / 'link').write_text(other)
    alg = tag_dir(m.broot, REPO, tag) / 'index' / 'sha256'
    alg.mkdir(parents=True)
    os.symlink(outside, alg / hexpart(other))
    write_link(index_link(m.root, REPO, tag, win), win)
    write_link(tag_link(m.root, REPO, tag), win)
    assert (outside / 'link').read_text() == other
    assert os.path.islink(alg / hexpart(other))
    recs = sweep_records(m, tag)
    assert [(r['decision'], r['reason']) for r in recs] == \
        [('refuse', 'alias')], recs


# ---------------------------------------------------- real registry, skopeo

@pytest.fixture(scope='module')
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp('oci')
    out = {}
    for name in ('A', 'B'):
        out[name] = (d / name, R.mkoci(d / name, 'debris-race-' + name, 1, 4))
    assert out['A'][1] != out['B'][1]
    return out


def _skopeo_push(reg, oci_dir, ref):
    cmd = [R.SKOPEO_BIN, '--insecure-policy', 'copy',
           '--dest-tls-verify=false', 'oci:%s' % oci_dir,
           'docker://%s/%s' % (reg.host, ref)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True)


ROUNDS = 64


def test_racing_first_pushes_through_registry_leave_no_debris(
        tlk, request, images, tmp_path):
    """Two skopeo pushes of different images to one new protected tag,
    started together, ROUNDS times. Every round: one push wins, the tag
    resolves to its image, and the tag's index holds exactly one entry,
    the winner's."""
    m = tlk.mount()
    reg = R.Registry(m.mnt, workdir=tmp_path / 'registry')
    reg.start()
    request.addfinalizer(reg.stop)
    dig = {n: images[n][1] for n in images}
    # Blobs first, so each round is the two manifest PUTs racing.
    for n in images:
        p = _skopeo_push(reg, images[n][0], '%s:seed-%s' % (REPO, n.lower()))
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    wins = {'A': 0, 'B': 0}
    debris = []
    for rnd in range(ROUNDS):
        tag = 'race%d' % rnd
        order = ('A', 'B') if rnd % 2 else ('B', 'A')
        procs = {}
        go = threading.Barrier(2)

        def start(n, tag=tag, procs=procs, go=go):
            go.wait(10)
            procs[n] = _skopeo_push(reg, images[n][0],
                                    '%s:%s' % (REPO, tag))
        ts = [threading.Thread(target=start, args=(n,)) for n in order]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        rcs = {}
        for n, p in procs.items():
            _, err = p.communicate(timeout=120)
            rcs[n] = (p.returncode, err)
        current = reg.manifest_digest(REPO, tag)
        assert current in dig.values(), (tag, current, rcs)
        winner = [n for n in dig if dig[n] == current][0]
        loser = 'B' if winner == 'A' else 'A'
        assert rcs[winner][0] == 0, rcs[winner][1]
        assert rcs[loser][0] != 0, 'both pushes of %s succeeded' % tag
        wins[winner] += 1
        entries = index_entries(m.broot, REPO, tag)
        if entries != [hexpart(current)]:
            debris.append((tag, current, entries))
    swept = m.log_text().count('removed the index entry')
    print('wins: %s, lost entries removed: %d' % (wins, swept))
    assert debris == [], '%d of %d rounds left debris: %s' % (
        len(debris), ROUNDS, debris)
    for rnd in range(ROUNDS):
        tag = 'race%d' % rnd
        assert_clean_tag(m, tag, reg.manifest_digest(REPO, tag))
    # The interleaving that leaves debris did happen (on the unfixed
    # daemon about one round in four keeps the loser's entry).
    assert swept > 0, 'no round raced: the test proved nothing'
