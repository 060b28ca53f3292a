# SPDX-License-Identifier: MIT
"""Ordinary POSIX behaviour through taglockfs equals the backing directory
for everything that is not protected tag state (DESIGN rule 7).

Every test checks the bytes and metadata in the backing directory, not only
what the mount answers, and error cases are compared with the same
operation on a native directory."""
import errno
import hashlib
import mmap
import os
import stat
import subprocess

import pytest

from tlkutil import (RENAME_EXCHANGE, RENAME_NOREPLACE, digest, expect_errno,
                     push_tag,
                     read, renameat2, rev_link, tag_link)

MiB = 1 << 20


def errno_of(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except OSError as e:
        return e.errno
    return 0


def sha(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(MiB), b''):
            h.update(chunk)
    return h.hexdigest()


def run(cmd, **kw):
    r = subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True,
                       **kw)
    assert r.returncode == 0, '%s: exit %d: %s' % (cmd, r.returncode,
                                                   r.stderr.decode())
    return r


def test_large_file_write_read_seek_truncate(m):
    data = os.urandom(8 * MiB + 12345)
    p = m.mnt / 'big.bin'
    with open(p, 'wb') as f:
        for off in range(0, len(data), 100000):
            f.write(data[off:off + 100000])
    assert sha(m.backing / 'big.bin') == hashlib.sha256(data).hexdigest()
    assert os.stat(m.backing / 'big.bin').st_size == len(data)
    # Read back through the mount, with seeks.
    with open(p, 'rb') as f:
        assert f.read() == data
        f.seek(5 * MiB + 7)
        assert f.read(4096) == data[5 * MiB + 7:5 * MiB + 7 + 4096]
    # Overwrite in the middle with pwrite.
    fd = os.open(p, os.O_RDWR)
    try:
        os.pwrite(fd, b'X' * 1000, 3 * MiB)
    finally:
        os.close(fd)
    expect = data[:3 * MiB] + b'X' * 1000 + data[3 * MiB + 1000:]
    assert read(m.backing / 'big.bin') == expect
    # Append.
    with open(p, 'ab') as f:
        f.write(b'tail')
    expect += b'tail'
    assert read(m.backing / 'big.bin') == expect
    # Truncate down, then up (the extension reads as zeros).
    os.truncate(p, 1 * MiB)
    assert read(m.backing / 'big.bin') == expect[:MiB]
    with open(p, 'r+b') as f:
        f.truncate(2 * MiB)
    assert read(m.backing / 'big.bin') == expect[:MiB] + bytes(MiB)
    assert os.stat(p).st_size == 2 * MiB


def test_write_in_backing_visible_in_mount(m):
    (m.backing / 'f').write_bytes(b'one')
    assert read(m.mnt / 'f') == b'one'
    (m.backing / 'f').write_bytes(b'two, longer')
    assert read(m.mnt / 'f') == b'two, longer'


def test_mkdir_p_and_readdir(m):
    os.makedirs(m.mnt / 'a/b/c/d/e')
    assert (m.backing / 'a/b/c/d/e').is_dir()
    names = ['f%04d' % i for i in range(1000)]
    d = m.mnt / 'a/many'
    d.mkdir()
    for n in names:
        (d / n).write_bytes(n.encode())
    assert sorted(os.listdir(d)) == names
    assert sorted(os.listdir(m.backing / 'a/many')) == names
    with os.scandir(d) as it:
        ents = list(it)
    assert len(ents) == 1000 and all(e.is_file() for e in ents)
    assert read(d / 'f0999') == b'f0999'


def test_rename_files_and_dirs(m, tlk):
    (m.mnt / 'src').write_bytes(b'content')
    os.rename(m.mnt / 'src', m.mnt / 'dst')
    assert not (m.backing / 'src').exists()
    assert read(m.backing / 'dst') == b'content'
    # Rename over an existing file replaces it.
    (m.mnt / 'other').write_bytes(b'other')
    os.rename(m.mnt / 'other', m.mnt / 'dst')
    assert read(m.backing / 'dst') == b'other'
    # Directories, with content, across levels.
    os.makedirs(m.mnt / 'd1/sub')
    (m.mnt / 'd1/sub/f').write_bytes(b'f')
    os.makedirs(m.mnt / 'x/y')
    os.rename(m.mnt / 'd1', m.mnt / 'x/y/d2')
    assert read(m.backing / 'x/y/d2/sub/f') == b'f'
    assert not (m.backing / 'd1').exists()
    # Through the mount, the old name is gone and the new one works.
    assert not (m.mnt / 'd1').exists()
    assert read(m.mnt / 'x/y/d2/sub/f') == b'f'
    # Error cases equal native.
    nat = tlk.tmpdir('native')
    mnt = m.mnt / 'errs'
    for base in (nat, mnt):
        os.makedirs(base / 'full/x')
        os.makedirs(base / 'empty')
        (base / 'file').write_bytes(b'')
    for src, dst in [('empty', 'full'), ('full', 'file'), ('file', 'empty'),
                     ('missing', 'z'), ('full', 'full/x/inside')]:
        want = errno_of(os.rename, nat / src, nat / dst)
        got = errno_of(os.rename, mnt / src, mnt / dst)
        assert want != 0
        assert got == want, 'rename %s -> %s: %s, native %s' % (
            src, dst, errno.errorcode.get(got), errno.errorcode.get(want))
    assert sorted(os.listdir(m.backing / 'errs')) == sorted(os.listdir(nat))
    assert os.listdir(m.backing / 'errs/full') == ['x']


def test_renameat2_noreplace_and_exchange(m, tlk):
    nat = tlk.tmpdir('native')
    for base in (nat, m.mnt):
        (base / 'a').write_bytes(b'A')
        (base / 'b').write_bytes(b'B')
    # Native must support both on this machine, or the test says nothing.
    renameat2(nat / 'a', nat / 'b', RENAME_EXCHANGE)
    assert errno_of(renameat2, nat / 'a', nat / 'b',
                    RENAME_NOREPLACE) == errno.EEXIST

    renameat2(m.mnt / 'a', m.mnt / 'b', RENAME_EXCHANGE)
    assert read(m.backing / 'a') == b'B' and read(m.backing / 'b') == b'A'
    assert read(m.mnt / 'a') == b'B' and read(m.mnt / 'b') == b'A'
    assert errno_of(renameat2, m.mnt / 'a', m.mnt / 'b',
                    RENAME_NOREPLACE) == errno.EEXIST
    assert read(m.backing / 'a') == b'B' and read(m.backing / 'b') == b'A'
    renameat2(m.mnt / 'a', m.mnt / 'c', RENAME_NOREPLACE)
    assert not (m.backing / 'a').exists()
    assert read(m.backing / 'c') == b'B'


def test_hard_links_and_symlinks(m):
    (m.mnt / 'orig').write_bytes(b'hello')
    os.link(m.mnt / 'orig', m.mnt / 'hl')
    bs = os.stat(m.backing / 'orig')
    assert bs.st_nlink == 2
    assert os.path.samefile(m.backing / 'orig', m.backing / 'hl')
    assert os.stat(m.mnt / 'hl').st_nlink == 2
    assert os.stat(m.mnt / 'orig').st_ino == os.stat(m.mnt / 'hl').st_ino
    with open(m.mnt / 'hl', 'ab') as f:
        f.write(b' world')
    assert read(m.backing / 'orig') == b'hello world'
    assert read(m.mnt / 'orig') == b'hello world'
    os.unlink(m.mnt / 'orig')
    assert os.stat(m.backing / 'hl').st_nlink == 1
    assert read(m.mnt / 'hl') == b'hello world'

    os.mkdir(m.mnt / 'dir')
    os.symlink('../hl', m.mnt / 'dir/rel')
    os.symlink('/nonexistent/target', m.mnt / 'dangling')
    assert os.readlink(m.backing / 'dir/rel') == '../hl'
    assert os.readlink(m.mnt / 'dir/rel') == '../hl'
    assert read(m.mnt / 'dir/rel') == b'hello world'
    assert os.readlink(m.mnt / 'dangling') == '/nonexistent/target'
    assert stat.S_ISLNK(os.lstat(m.mnt / 'dangling').st_mode)
    assert errno_of(os.stat, m.mnt / 'dangling') == errno.ENOENT
    with open(m.mnt / 'dir/rel', 'ab') as f:
        f.write(b'!')
    assert read(m.backing / 'hl') == b'hello world!'
    assert errno_of(os.link, m.mnt / 'hl', m.mnt / 'dir/rel') == errno.EEXIST


def test_chmod_chown_utime(m):
    p = m.mnt / 'f'
    p.write_bytes(b'x')
    os.chmod(p, 0o640)
    assert stat.S_IMODE(os.stat(m.backing / 'f').st_mode) == 0o640
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640
    os.chown(p, 1234, 5678)
    bs = os.stat(m.backing / 'f')
    assert (bs.st_uid, bs.st_gid) == (1234, 5678)
    assert (os.stat(p).st_uid, os.stat(p).st_gid) == (1234, 5678)
    os.utime(p, ns=(1_000_000_123_456_789, 1_100_000_987_654_321))
    bs = os.stat(m.backing / 'f')
    assert bs.st_atime_ns == 1_000_000_123_456_789
    assert bs.st_mtime_ns == 1_100_000_987_654_321
    assert os.stat(p).st_mtime_ns == 1_100_000_987_654_321
    os.mkdir(m.mnt / 'd', 0o700)
    os.chmod(m.mnt / 'd', 0o2751)
    assert stat.S_IMODE(os.stat(m.backing / 'd').st_mode) == 0o2751
    # Files created through the mount are owned by the creator (root).
    assert os.stat(m.backing / 'd').st_uid == 0
    # Symlink ownership without following.
    os.symlink('f', m.mnt / 'l')
    os.lchown(m.mnt / 'l', 42, 43)
    ls = os.lstat(m.backing / 'l')
    assert (ls.st_uid, ls.st_gid) == (42, 43)
    assert os.stat(m.backing / 'f').st_uid == 1234


def test_xattrs(m, tlk):
    p = m.mnt / 'f'
    p.write_bytes(b'x')
    os.setxattr(p, 'user.tlk', b'value\0bin')
    assert os.getxattr(m.backing / 'f', 'user.tlk') == b'value\0bin'
    assert os.getxattr(p, 'user.tlk') == b'value\0bin'
    assert 'user.tlk' in os.listxattr(p)
    os.setxattr(p, 'user.big', b'y' * 4000)
    assert os.getxattr(m.backing / 'f', 'user.big') == b'y' * 4000
    assert errno_of(os.setxattr, p, 'user.tlk', b'n',
                    os.XATTR_CREATE) == errno.EEXIST
    os.removexattr(p, 'user.tlk')
    assert 'user.tlk' not in os.listxattr(m.backing / 'f')
    nat = tlk.tmpdir('native')
    (nat / 'f').write_bytes(b'x')
    want = errno_of(os.getxattr, nat / 'f', 'user.missing')
    assert errno_of(os.getxattr, p, 'user.missing') == want == errno.ENODATA
    want = errno_of(os.removexattr, nat / 'f', 'user.missing')
    assert errno_of(os.removexattr, p, 'user.missing') == want


def test_statvfs_matches_backing(m):
    a = os.statvfs(m.mnt)
    b = os.statvfs(m.backing)
    assert a.f_blocks * a.f_frsize == b.f_blocks * b.f_frsize
    assert a.f_files == b.f_files
    assert abs(a.f_bavail * a.f_frsize - b.f_bavail * b.f_frsize) < 512 * MiB
    assert a.f_namemax >= 255


def make_tree(base):
    os.makedirs(base / 'tree/sub/deeper')
    (base / 'tree/a.txt').write_bytes(b'alpha\n')
    (base / 'tree/sub/b.bin').write_bytes(os.urandom(300000))
    (base / 'tree/sub/deeper/empty').write_bytes(b'')
    os.chmod(base / 'tree/sub/b.bin', 0o600)
    os.symlink('../a.txt', base / 'tree/sub/link')
    os.link(base / 'tree/a.txt', base / 'tree/hard')
    os.utime(base / 'tree/a.txt', ns=(10**18, 10**18))
    os.setxattr(base / 'tree/a.txt', 'user.k', b'v')


def test_cp_a_tar_round_trip_and_rm_rf(m, tlk):
    src = tlk.tmpdir('src')
    make_tree(src)
    run(['cp', '-a', str(src / 'tree'), str(m.mnt / 'copy')])
    run(['diff', '-r', '--no-dereference', str(src / 'tree'),
         str(m.backing / 'copy')])
    sa, sb = os.lstat(src / 'tree/a.txt'), os.lstat(m.backing / 'copy/a.txt')
    assert sb.st_mtime_ns == sa.st_mtime_ns
    assert stat.S_IMODE(os.lstat(m.backing / 'copy/sub/b.bin').st_mode) \
        == 0o600
    assert os.readlink(m.backing / 'copy/sub/link') == '../a.txt'
    assert os.lstat(m.backing / 'copy/hard').st_nlink == 2
    assert os.getxattr(m.backing / 'copy/a.txt', 'user.k') == b'v'
    # tar c from the mount | tar x elsewhere, then back into the mount.
    out = tlk.tmpdir('out')
    run('tar -C %s -cf - copy | tar -C %s -xpf -' % (m.mnt, out))
    run(['diff', '-r', '--no-dereference', str(src / 'tree'),
         str(out / 'copy')])
    run('tar -C %s -cf - copy | tar -C %s -xpf - --transform s/^copy/again/'
        % (out, m.mnt))
    run(['diff', '-r', '--no-dereference', str(src / 'tree'),
         str(m.backing / 'again')])
    run(['rm', '-rf', str(m.mnt / 'copy'), str(m.mnt / 'again')])
    assert os.listdir(m.backing) == []
    assert os.listdir(m.mnt) == []


def test_sparse_file(m):
    p = m.mnt / 'sparse'
    with open(p, 'wb') as f:
        f.seek(256 * MiB)
        f.write(b'end')
    bs = os.stat(m.backing / 'sparse')
    assert bs.st_size == 256 * MiB + 3
    assert bs.st_blocks * 512 < 1 * MiB, 'holes were filled in the backing'
    with open(p, 'rb') as f:
        f.seek(100 * MiB)
        assert f.read(4096) == bytes(4096)
        f.seek(256 * MiB)
        assert f.read() == b'end'


def test_o_append_two_writers(m):
    p = m.mnt / 'log'
    a = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    b = os.open(p, os.O_WRONLY | os.O_APPEND)
    try:
        for i in range(50):
            os.write(a, b'a%02d\n' % i)
            os.write(b, b'b%02d\n' % i)
    finally:
        os.close(a)
        os.close(b)
    expect = b''.join(b'a%02d\nb%02d\n' % (i, i) for i in range(50))
    assert read(m.backing / 'log') == expect


def test_fallocate(m):
    p = m.mnt / 'alloc'
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.posix_fallocate(fd, 0, 4 * MiB)
    finally:
        os.close(fd)
    bs = os.stat(m.backing / 'alloc')
    assert bs.st_size == 4 * MiB
    assert bs.st_blocks * 512 >= 4 * MiB
    assert read(m.backing / 'alloc') == bytes(4 * MiB)


def test_mmap_read_and_shared_write(m):
    data = os.urandom(3 * mmap.PAGESIZE + 17)
    (m.backing / 'map').write_bytes(data)
    with open(m.mnt / 'map', 'rb') as f:
        mm = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        assert mm[:] == data
        mm.close()
    with open(m.mnt / 'map', 'r+b') as f:
        mm = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED)
        mm[10:20] = b'0123456789'
        mm[-5:] = b'ABCDE'
        mm.flush()
        mm.close()
    expect = data[:10] + b'0123456789' + data[20:-5] + b'ABCDE'
    assert read(m.backing / 'map') == expect
    assert read(m.mnt / 'map') == expect


PERM_SCRIPT = r'''
import errno, os, sys
base = sys.argv[1]
def e(fn, *a):
    try:
        fn(*a)
    except OSError as x:
        return errno.errorcode[x.errno]
    return 'ok'
def create(p):
    os.close(os.open(p, os.O_WRONLY | os.O_CREAT, 0o644))
out = [
    e(create, base + '/rootdir/new'),
    e(lambda p: open(p, 'rb').read(), base + '/rootdir/secret'),
    e(lambda p: open(p, 'ab').write(b'x'), base + '/rootdir/public'),
    e(lambda p: open(p, 'rb').read(), base + '/rootdir/public'),
    e(os.unlink, base + '/rootdir/public'),
    e(os.mkdir, base + '/rootdir/sub'),
    e(os.listdir, base + '/closed'),
    e(os.chmod, base + '/rootdir/public', 0o777),
    e(create, base + '/open/mine'),
    e(os.chmod, base + '/open/mine', 0o600),
    e(os.utime, base + '/rootdir/public'),
]
print(' '.join(out))
'''


def as_nobody(base):
    def drop():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    r = subprocess.run(['/usr/bin/python3', '-c', PERM_SCRIPT, str(base)],
                       capture_output=True, preexec_fn=drop, timeout=30)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode().split()


def perm_tree(base):
    os.mkdir(base / 'rootdir', 0o755)
    (base / 'rootdir/secret').write_bytes(b's')
    os.chmod(base / 'rootdir/secret', 0o600)
    (base / 'rootdir/public').write_bytes(b'p')
    os.chmod(base / 'rootdir/public', 0o644)
    os.mkdir(base / 'closed', 0o700)
    os.mkdir(base / 'open', 0o777)
    os.chmod(base / 'open', 0o777)


def test_unix_permissions_for_other_users(tlk):
    # allow_other exposes the mount to every user: their permissions must
    # be those of the backing files, as on a native directory.
    m = tlk.mount(options=('allow_other',))
    nat = tlk.tmpdir('native')
    perm_tree(nat)
    perm_tree(m.mnt)
    want = as_nobody(nat)
    assert want[:3] == ['EACCES', 'EACCES', 'EACCES']
    got = as_nobody(m.mnt)
    assert got == want
    assert not (m.backing / 'rootdir/new').exists()
    assert read(m.backing / 'rootdir/public') == b'p'
    assert os.stat(m.backing / 'open/mine').st_uid == 65534


def test_errnos_equal_native(m, tlk):
    nat = tlk.tmpdir('native')
    for base in (nat, m.mnt):
        os.makedirs(base / 'dir/sub')
        (base / 'file').write_bytes(b'x')
        (base / 'dir/f').write_bytes(b'y')

    def excl(p):
        os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL))

    cases = [
        ('stat missing', os.stat, 'missing'),
        ('open missing', lambda p: open(p, 'rb'), 'missing'),
        ('open in missing dir', lambda p: open(p, 'wb'), 'nodir/x'),
        ('unlink missing', os.unlink, 'missing'),
        ('rmdir missing', os.rmdir, 'missing'),
        ('mkdir exists', os.mkdir, 'dir'),
        ('mkdir over file', os.mkdir, 'file'),
        ('O_EXCL exists', excl, 'file'),
        ('rmdir non-empty', os.rmdir, 'dir'),
        ('rmdir file', os.rmdir, 'file'),
        ('unlink dir', os.unlink, 'dir'),
        ('file as dir', os.stat, 'file/x'),
        ('open dir for write', lambda p: open(p, 'wb'), 'dir'),
        ('listdir file', os.listdir, 'file'),
        ('symlink exists', lambda p: os.symlink('t', p), 'file'),
        ('readlink file', os.readlink, 'file'),
        ('truncate dir', lambda p: os.truncate(p, 0), 'dir'),
        ('long name', os.stat, 'n' * 300),
    ]
    for what, fn, rel in cases:
        want = errno_of(fn, nat / rel)
        got = errno_of(fn, m.mnt / rel)
        assert want != 0, what
        assert got == want, '%s: %s, native %s' % (
            what, errno.errorcode.get(got, got), errno.errorcode.get(want))
    # Nothing changed in the backing.
    assert sorted(os.listdir(m.backing)) == ['dir', 'file']
    assert sorted(os.listdir(m.backing / 'dir')) == ['f', 'sub']


def test_registry_data_paths_pass_through(m):
    """Blobs, uploads, layer links and revision links of an immutable
    repository are ordinary files."""
    root, broot = m.root, m.broot
    blob = os.urandom(2 * MiB)
    h = hashlib.sha256(blob).hexdigest()
    up = root / 'repositories/test/example/_uploads/u1'
    os.makedirs(up)
    (up / 'data').write_bytes(blob[:MiB])
    with open(up / 'data', 'ab') as f:
        f.write(blob[MiB:])
    (up / 'startedat').write_bytes(b'2024')
    bdir = root / 'blobs/sha256' / h[:2] / h
    os.makedirs(bdir)
    os.rename(up / 'data', bdir / 'data')
    assert sha(broot / 'blobs/sha256' / h[:2] / h / 'data') == h
    run(['rm', '-rf', str(up)])
    assert not (broot / 'repositories/test/example/_uploads/u1').exists()
    layer = root / 'repositories/test/example/_layers/sha256' / h / 'link'
    os.makedirs(layer.parent)
    layer.write_bytes(b'sha256:' + h.encode())
    layer.write_bytes(b'sha256:' + h.encode())  # identical rewrite
    # A layer link holds the digest of its own path (rule 3), nothing else.
    expect_errno(errno.EPERM, layer.write_bytes, digest('other').encode())
    assert read(broot / 'repositories/test/example/_layers/sha256' / h
                / 'link') == b'sha256:' + h.encode()
    os.unlink(layer)
    # Revision links of manifests no protected tag points to.
    push_tag(root, 'test/example', 'v1', digest(1))
    r2 = rev_link(root, 'test/example', digest(2))
    os.makedirs(r2.parent)
    r2.write_bytes(digest(2).encode())
    os.unlink(r2)
    assert not rev_link(broot, 'test/example', digest(2)).exists()
    assert read(tag_link(broot, 'test/example', 'v1')) == digest(1).encode()


@pytest.mark.parametrize('seq', ['28', '31'])
def test_mutable_repository_is_plain(m, seq):
    """A repository no entry marks immutable behaves like a directory."""
    from tlkutil import write_link
    link = tag_link(m.root, 'other/repo', 'v1')
    push_tag(m.root, 'other/repo', 'v1', digest(1), seq=seq)
    write_link(link, digest(2), seq=seq)
    assert read(tag_link(m.broot, 'other/repo', 'v1')) == digest(2).encode()
    with open(link, 'wb') as f:
        f.write(b'anything at all')
    assert read(tag_link(m.broot, 'other/repo', 'v1')) == b'anything at all'
    os.truncate(link, 3)
    assert read(tag_link(m.broot, 'other/repo', 'v1')) == b'any'
    os.unlink(link)
    run(['rm', '-rf', str(m.root / 'repositories/other')])
    assert not (m.broot / 'repositories/other').exists()
