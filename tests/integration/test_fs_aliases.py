"""Ways around the rules that a code review found, each closed.

- A file still open for writing is renamed over a new protected link, then
  written through the old descriptor (distribution 3.1 keeps its temporary
  file open at rename time).
- A link this daemon just created is reopened through /proc/<pid>/fd,
  which skips the name lookup.
- A symlink stands in for a repository, tag or current/ directory and
  leads the registry into a mutable tree.
- The revision link a protected tag points to is truncated or rewritten
  instead of removed (rule 5).
"""
import errno
import os
import uuid

from tlkutil import (close_quietly, digest, expect_errno, push_tag, read, rev_link,
                     tag_link, write_link)

REPO = 'test/example'
D1, D2 = digest('alias-1'), digest('alias-2')
POLICY = """version: 1
repositories:
  - name: test/example
    immutable: true
  - name: test/sym
    immutable: true
"""


def test_open_descriptor_of_renamed_file_cannot_change_the_tag(tlk):
    m = tlk.mount(policy=POLICY)
    link = tag_link(m.root, REPO, 'v1')
    os.makedirs(link.parent)
    tmp = link.parent / ('link.%s.tmp' % uuid.uuid4())
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, D1.encode())
        os.rename(tmp, link)                # a new tag: allowed
        assert read(tag_link(m.broot, REPO, 'v1')) == D1.encode()
        # The old descriptor is told the truth: it can no longer change
        # the file, which is now the tag's link (rule 6).
        expect_errno(errno.EPERM, os.ftruncate, fd, 0)
        expect_errno(errno.EPERM, os.pwrite, fd, D2.encode(), 0)
    finally:
        os.close(fd)
    assert read(tag_link(m.broot, REPO, 'v1')) == D1.encode()
    assert read(link) == D1.encode()


def test_created_link_reopened_through_proc_stays_guarded(tlk):
    m = tlk.mount(policy=POLICY)
    link = tag_link(m.root, REPO, 'v2')
    os.makedirs(link.parent)
    fd = os.open(link, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, D1.encode())            # publishes the tag
        assert read(tag_link(m.broot, REPO, 'v2')) == D1.encode()
        proc = '/proc/self/fd/%d' % fd
        fd2 = os.open(proc, os.O_RDWR)
        try:
            expect_errno(errno.EPERM, os.pwrite, fd2, D2.encode(), 0)
        finally:
            close_quietly(fd2)
        expect_errno(errno.EPERM, os.truncate, proc, 0)
    finally:
        close_quietly(fd)
    assert read(tag_link(m.broot, REPO, 'v2')) == D1.encode()


def test_symlinked_structural_directories_are_refused(tlk):
    m = tlk.mount(policy=POLICY)
    repos = m.root / 'repositories'
    os.makedirs(repos / 'other/repo/_manifests/tags')
    os.makedirs(repos / 'test')
    # A repository, a tag directory and a current/ directory.
    expect_errno(errno.EPERM, os.symlink, '../other/repo', repos / 'test/sym')
    os.makedirs(tag_link(m.root, REPO, 'v1').parent.parent)
    tags = tag_link(m.root, REPO, 'v1').parent.parent.parent
    expect_errno(errno.EPERM, os.symlink, '/tmp', tags / 'v9')
    expect_errno(errno.EPERM, os.symlink, '/tmp',
                 tag_link(m.root, REPO, 'v1').parent.parent / 'current')
    # Nor anywhere else in the registry's tree (rule 1), nor renamed into
    # place from outside it.
    expect_errno(errno.EPERM, os.symlink, '/tmp', m.root / 'sl')
    os.symlink('/tmp', m.mnt / 'sl')
    expect_errno(errno.EPERM, os.rename, m.mnt / 'sl', tags / 'v8')
    assert not (tags / 'v8').exists()
    # Outside the tree symlinks are ordinary.
    os.symlink('/tmp', m.mnt / 'elsewhere')
    assert os.readlink(m.mnt / 'elsewhere') == '/tmp'


def test_revision_link_of_protected_tag_cannot_be_emptied_or_rewritten(tlk):
    m = tlk.mount(policy=POLICY)
    push_tag(m.root, REPO, 'v1', D1)
    rev = rev_link(m.root, REPO, D1)
    expect_errno(errno.EPERM, os.truncate, rev, 0)
    fd = os.open(rev, os.O_WRONLY | os.O_TRUNC)
    try:
        expect_errno(errno.EPERM, os.write, fd, D2.encode())
    finally:
        close_quietly(fd)
    assert read(rev_link(m.broot, REPO, D1)) == D1.encode()
    # Identical rewrites, as every manifest PUT does, still work.
    write_link(rev, D1, '28')
    write_link(rev, D1, '31')
    other = rev.parent / 'link.x.tmp'
    other.write_bytes(D2.encode())
    expect_errno(errno.EPERM, os.rename, other, rev)
    assert read(rev_link(m.broot, REPO, D1)) == D1.encode()
    # A revision no protected tag uses stays writable.
    push_tag(m.root, REPO, 'latest', D2)
    write_link(rev_link(m.root, REPO, D2), D2, '28')
