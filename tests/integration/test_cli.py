# SPDX-License-Identifier: MIT
"""The command line: --help, --version, --check-policy, --verify-audit,
mounting BACKING MNT and DIR in place, in the foreground and as a daemon
and through mount(8); bad input fails clearly with nothing mounted."""
import errno
import os
import re
import subprocess
import time

import pytest

from tlkutil import (DEFAULT_POLICY, digest, mounted_fuse, push_tag, read,
                     tag_link, write_link_28)

REPO = 'test/example'


def text(r):
    return (r.stdout + r.stderr).decode(errors='replace')


def test_help_and_version(tlk):
    r = tlk.run(['--help'])
    assert r.returncode == 0, text(r)
    out = text(r)
    assert 'policy' in out and 'audit_log' in out, out
    assert 'BACKING' in out.upper() or 'MOUNTPOINT' in out.upper(), out
    r = tlk.run(['--version'])
    assert r.returncode == 0, text(r)
    m = re.search(r'\d+\.\d+\.\d+', text(r))
    assert m, text(r)
    src = os.environ.get('TLK_SOURCE_ROOT')
    if src:
        meson = open(os.path.join(src, 'meson.build')).read()
        want = re.search(r"version\s*:\s*'([^']+)'", meson).group(1)
        assert want in text(r), (want, text(r))


def test_check_policy_ok(tlk):
    p = tlk.write_policy(DEFAULT_POLICY)
    r = tlk.run(['--check-policy', p])
    assert r.returncode == 0, text(r)
    first = r.stdout.decode().splitlines()[0]
    assert first.startswith('%s: ok' % p), first


BAD_POLICIES = [
    # (what, text, line of the error)
    ('unknown top-level key',
     'version: 1\nrepositories: []\nrepos: []\n', 3),
    ('unknown entry key',
     'version: 1\nrepositories:\n  - name: a/b\n    immutable: true\n'
     '    imutable: false\n', 5),
    ('wrong type',
     'version: 1\nrepositories:\n  - name: a/b\n    immutable: 7\n', 4),
    ('bad glob',
     'version: 1\nrepositories:\n  - name: "a/[b"\n    immutable: true\n', 3),
    ('unsupported version', 'version: 2\nrepositories: []\n', 1),
    ('yaml syntax',
     'version: 1\nrepositories:\n  - name: [a/b\n    immutable: true\n', None),
    ('wrong defaults type',
     'version: 1\ndefaults:\n  protect_delete: maybe\nrepositories: []\n', 3),
    ('missing version', 'repositories:\n  - name: a/b\n    immutable: true\n',
     None),
]


@pytest.mark.parametrize('what,body,line', BAD_POLICIES,
                         ids=[b[0] for b in BAD_POLICIES])
def test_check_policy_errors(tlk, what, body, line):
    p = tlk.write_policy(body)
    r = tlk.run(['--check-policy', p])
    assert r.returncode == 1, text(r)
    err = r.stderr.decode()
    m = re.search(r'^%s:(\d+):(\d+): \S.*$' % re.escape(str(p)), err, re.M)
    assert m, 'no FILE:LINE:COL: message on stderr: %r' % err
    if line is not None:
        assert int(m.group(1)) == line, m.group(0)
    assert int(m.group(2)) >= 1


def test_check_policy_missing_file(tlk):
    p = tlk.base / 'nope.yaml'
    r = tlk.run(['--check-policy', p])
    assert r.returncode != 0
    assert str(p) in text(r)


def test_verify_audit_cli(tlk):
    empty = tlk.base / 'empty.jsonl'
    empty.write_text('')
    r = tlk.run(['--verify-audit', empty])
    assert r.returncode == 0, text(r)
    junk = tlk.base / 'junk.jsonl'
    junk.write_text('{"not": "a record"}\n')
    r = tlk.run(['--verify-audit', junk])
    assert r.returncode == 1, text(r)
    assert re.search(r'(line\s*|:)1\b', text(r)), text(r)
    r = tlk.run(['--verify-audit', tlk.base / 'missing.jsonl'])
    assert r.returncode != 0


def assert_start_fails(tlk, args, *mentions, mnt=None):
    """Run the daemon in the foreground with bad input: it must exit
    non-zero within 10 s, say why, and leave nothing mounted."""
    p = tlk.start(args)
    try:
        out, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError('still running after 10 s with %s' % args)
    finally:
        if mnt is not None and mounted_fuse(mnt):
            subprocess.run(['fusermount3', '-u', '-z', str(mnt)])
            raise AssertionError('%s mounted %s' % (args, mnt))
    msg = (out + err).decode(errors='replace')
    assert p.returncode != 0, msg
    assert msg.strip(), 'failed without a word'
    for s in mentions:
        assert s in msg, '%r not in %r' % (s, msg)
    return msg


def dirs(tlk):
    return tlk.tmpdir('backing'), tlk.tmpdir('mnt')


def test_unknown_option_fails(tlk):
    b, mnt = dirs(tlk)
    pol = tlk.write_policy(DEFAULT_POLICY)
    assert_start_fails(tlk, ['-f', '-o', 'policy=%s,bogus_opt=1' % pol, b,
                             mnt], 'bogus_opt', mnt=mnt)


def test_bad_verify_blobs_value_fails(tlk):
    b, mnt = dirs(tlk)
    pol = tlk.write_policy(DEFAULT_POLICY)
    assert_start_fails(tlk, ['-f', '-o', 'policy=%s,verify_blobs=some' % pol,
                             b, mnt], 'verify_blobs=some: expected small or all',
                       mnt=mnt)


def test_missing_policy_fails(tlk):
    b, mnt = dirs(tlk)
    pol = tlk.base / 'absent.yaml'
    assert_start_fails(tlk, ['-f', '-o', 'policy=%s' % pol, b, mnt],
                       str(pol), mnt=mnt)


def test_default_policy_path_used(tlk):
    if os.path.exists('/etc/taglockfs/policy.yaml'):
        pytest.fail('/etc/taglockfs/policy.yaml exists on this machine; '
                    'this test needs it absent')
    b, mnt = dirs(tlk)
    assert_start_fails(tlk, ['-f', b, mnt], '/etc/taglockfs/policy.yaml',
                       mnt=mnt)


def test_invalid_policy_fails_with_position(tlk):
    b, mnt = dirs(tlk)
    pol = tlk.write_policy(BAD_POLICIES[1][1])
    msg = assert_start_fails(tlk, ['-f', '-o', 'policy=%s' % pol, b, mnt],
                             mnt=mnt)
    assert re.search(r'%s:5:\d+: ' % re.escape(str(pol)), msg), msg


def test_missing_backing_fails(tlk):
    mnt = tlk.tmpdir('mnt')
    b = tlk.base / 'no-such-backing'
    pol = tlk.write_policy(DEFAULT_POLICY)
    assert_start_fails(tlk, ['-f', '-o', 'policy=%s' % pol, b, mnt], str(b),
                       mnt=mnt)
    assert not b.exists()


def test_no_arguments_fails(tlk):
    assert_start_fails(tlk, ['-f'])


def test_background_mode_fails_on_bad_policy(tlk):
    # Without -f the error must still reach the caller's exit status.
    b, mnt = dirs(tlk)
    pol = tlk.write_policy(BAD_POLICIES[0][1])
    assert_start_fails(tlk, ['-o', 'policy=%s' % pol, b, mnt], str(pol),
                       mnt=mnt)


def test_background_mode_mounts(tlk):
    b, mnt = dirs(tlk)
    pol = tlk.write_policy(DEFAULT_POLICY)
    r = tlk.run(['-o', 'policy=%s' % pol, b, mnt], timeout=20)
    try:
        assert r.returncode == 0, text(r)
        assert mounted_fuse(mnt), 'returned 0 but nothing is mounted'
        root = mnt / 'docker/registry/v2'
        push_tag(root, REPO, 'v1', digest(1))
        with pytest.raises(OSError) as ei:
            write_link_28(tag_link(root, REPO, 'v1'), digest(2))
        assert ei.value.errno == errno.EPERM
        assert read(tag_link(b / 'docker/registry/v2', REPO, 'v1')) == \
            digest(1).encode()
    finally:
        if mounted_fuse(mnt):
            subprocess.run(['fusermount3', '-u', str(mnt)], check=True)
    assert not mounted_fuse(mnt)


def test_mount_8_fstab_form(tlk):
    """/etc/fstab style, through mount(8) and mount.fuse3:
    `/path/taglockfs#BACKING MNT fuse policy=...` (mount(8) resets PATH
    for helpers, so the daemon is named by its path, as in an fstab)."""
    b, mnt = dirs(tlk)
    pol = tlk.write_policy(DEFAULT_POLICY)
    r = subprocess.run(['mount', '-t', 'fuse', '-o', 'policy=%s' % pol,
                        '%s#%s' % (os.path.abspath(tlk.bin), b), str(mnt)],
                       capture_output=True, timeout=20)
    try:
        assert r.returncode == 0, text(r)
        assert mounted_fuse(mnt)
        root = mnt / 'docker/registry/v2'
        push_tag(root, REPO, 'v1', digest(1))
        with pytest.raises(OSError) as ei:
            write_link_28(tag_link(root, REPO, 'v1'), digest(2))
        assert ei.value.errno == errno.EPERM
    finally:
        if mounted_fuse(mnt):
            subprocess.run(['umount', str(mnt)], check=True)
    assert read(tag_link(b / 'docker/registry/v2', REPO, 'v1')) == \
        digest(1).encode()


def test_in_place_mount_over_existing_content(tlk):
    d = tlk.tmpdir('registry')
    root_b = d / 'docker/registry/v2'
    os.makedirs(d / 'docker/registry/v2')
    (d / 'hello.txt').write_bytes(b'before')
    # A tag that existed before taglockfs was mounted is protected too.
    link = tag_link(root_b, REPO, 'v1')
    os.makedirs(link.parent)
    link.write_bytes(digest(1).encode())
    m = tlk.mount(inplace=True, backing=d)
    assert m.mnt == d and mounted_fuse(d)
    assert read(d / 'hello.txt') == b'before'
    assert read(tag_link(m.root, REPO, 'v1')) == digest(1).encode()
    (d / 'new.txt').write_bytes(b'written through the mount')
    assert read(m.backing / 'new.txt') == b'written through the mount'
    with pytest.raises(OSError) as ei:
        write_link_28(tag_link(m.root, REPO, 'v1'), digest(2))
    assert ei.value.errno == errno.EPERM
    assert read(m.backing / 'docker/registry/v2' /
                tag_link('', REPO, 'v1')) == digest(1).encode()
    push_tag(m.root, REPO, 'v2', digest(2), seq='31')
    m.unmount()
    assert not mounted_fuse(d)
    # After unmounting, everything is where the registry put it.
    assert read(d / 'new.txt') == b'written through the mount'
    assert read(tag_link(root_b, REPO, 'v1')) == digest(1).encode()
    assert read(tag_link(root_b, REPO, 'v2')) == digest(2).encode()


def test_in_place_bad_policy_leaves_dir_alone(tlk):
    d = tlk.tmpdir('registry')
    (d / 'keep').write_bytes(b'k')
    pol = tlk.write_policy('version: 1\nrepositories: 5\n')
    assert_start_fails(tlk, ['-f', '-o', 'policy=%s' % pol, d], str(pol),
                       mnt=d)
    assert os.listdir(d) == ['keep']


def test_unmount_stops_daemon(tlk):
    m = tlk.mount()
    push_tag(m.root, REPO, 'v1', digest(1))
    t0 = time.monotonic()
    m.unmount()
    assert m.exit_status == 0, m.log_text()
    assert time.monotonic() - t0 < 5
    assert read(tag_link(m.broot, REPO, 'v1')) == digest(1).encode()
