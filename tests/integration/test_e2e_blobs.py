# SPDX-License-Identifier: MIT
"""The bytes behind a protected tag never change (docs/design.md, rule 9),
end to end: Debian's docker-registry over a taglockfs mount, real skopeo,
the registry's own garbage collector.

Against the daemon before blob protection, the swap test fails (the
registry serves image 2 for test/example:v1) and the garbage-collection
test fails (deleting a protected tag's blobs through the mount works).
"""
import os
import subprocess
from pathlib import Path

import pytest

import registry as R

REPO = 'test/example'
SCRATCH = 'team-a/scratch'

POLICY = """\
version: 1
repositories:
  - name: test/example
    immutable: true
"""


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp('oci')
    out = {}
    for name, fn, seed, layers in [('one', R.mkoci, 'blob-one', 2),
                                   ('two', R.mkoci, 'blob-two', 2),
                                   ('idx', R.mkoci_index, 'blob-idx', 1),
                                   ('scr', R.mkoci, 'blob-scr', 2),
                                   ('gone', R.mkoci, 'blob-gone', 2)]:
        out[name] = (d / name, fn(d / name, seed, layers, 16))
    return out


@pytest.fixture
def reg(tlk, request, tmp_path):
    m = tlk.mount(policy=POLICY)
    r = R.Registry(m.mnt, workdir=tmp_path / 'registry')
    r.start()

    def fin():
        r.stop()
        rep = getattr(request.node, 'rep_call', None)
        if rep is not None and rep.failed:
            print('==== registry log (tail)')
            print(r.log_text()[-5000:])
    request.addfinalizer(fin)
    r.m = m
    return r


def blob_path(root, dgst):
    h = dgst.split(':', 1)[1]
    return Path(root) / 'blobs' / 'sha256' / h[:2] / h / 'data'


def push(reg, images, name, ref):
    rc, err = reg.push(images[name][0], ref)
    assert rc == 0, 'push %s as %s: %s' % (name, ref, err)


def pulls_identical(reg, images, ref, name, dest):
    rc, err = reg.pull(ref, dest)
    assert rc == 0, 'pull %s: %s' % (ref, err)
    src = images[name][0]
    assert R.oci_top_digest(dest) == images[name][1]
    assert R.oci_digests(dest) == R.oci_digests(src)
    for dg in R.oci_digests(src):
        assert R.oci_blob(dest, dg) == R.oci_blob(src, dg)


def test_swapping_the_manifest_blob_of_a_protected_tag_is_refused(
        reg, images, tmp_path):
    """The issue's attack: image 2's manifest bytes written into the blob
    of image 1's manifest through the mount, by write, truncate, rename
    and delete-and-recreate. Every way is refused, and test/example:v1
    pulls image 1 byte-identical afterwards."""
    push(reg, images, 'one', REPO + ':v1')
    m = reg.m
    one, two = images['one'][1], images['two'][1]
    target = blob_path(m.root, one)
    backing = blob_path(m.broot, one)
    good = backing.read_bytes()
    evil = R.oci_blob(images['two'][0], two)

    def overwrite():
        fd = os.open(target, os.O_WRONLY)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, evil)
            os.fsync(fd)
        finally:
            os.close(fd)

    for attack in (overwrite,
                   lambda: os.truncate(target, 0),
                   lambda: os.unlink(target)):
        try:
            attack()
        except OSError:
            pass
        else:
            pytest.fail('%s succeeded' % attack)
        assert backing.read_bytes() == good
    src = m.mnt / 'evil'
    src.write_bytes(evil)
    with pytest.raises(OSError):
        os.rename(src, target)
    assert backing.read_bytes() == good
    assert reg.manifest_digest(REPO, 'v1') == one
    pulls_identical(reg, images, REPO + ':v1', 'one', tmp_path / 'pull')


def gc(reg):
    return subprocess.run(
        [R.REGISTRY_BIN, 'garbage-collect', '--delete-untagged',
         str(reg.config)], capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL)


def test_garbage_collection_keeps_exactly_what_protected_tags_need(
        reg, images, tmp_path):
    """docker-registry garbage-collect --delete-untagged over a registry
    with a protected image, a mutable repository's image and an image left
    untagged: it succeeds, removes exactly the blobs of the untagged image
    that nothing else uses, and every tag still pulls byte-identical."""
    push(reg, images, 'one', REPO + ':v1')
    push(reg, images, 'scr', SCRATCH + ':v1')
    push(reg, images, 'gone', REPO + ':latest')   # mutable tag...
    push(reg, images, 'two', REPO + ':latest')    # ...moved: 'gone' untagged
    m = reg.m
    kept = set()
    for name in ('one', 'scr', 'two'):
        kept |= R.oci_digests(images[name][0])
    gone = R.oci_digests(images['gone'][0]) - kept
    assert gone, 'the untagged image must have blobs of its own'
    reg.stop()  # distribution: collect garbage with the registry stopped
    r = gc(reg)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for dg in kept:
        assert blob_path(m.broot, dg).exists(), 'kept blob %s deleted' % dg
    for dg in gone:
        assert not blob_path(m.broot, dg).exists(), \
            'untagged blob %s not collected' % dg
    reg.start()
    pulls_identical(reg, images, REPO + ':v1', 'one', tmp_path / 'p1')
    pulls_identical(reg, images, REPO + ':latest', 'two', tmp_path / 'p2')
    pulls_identical(reg, images, SCRATCH + ':v1', 'scr', tmp_path / 'p3')


def test_garbage_collection_never_breaks_a_protected_index(
        reg, images, tmp_path):
    """distribution 2.8's --delete-untagged deletes the child manifests of
    an image index (nothing tags them directly). Under a protected tag
    those deletes are refused, so the collector stops before it breaks the
    index, and the index still pulls byte-identical; a collection without
    --delete-untagged succeeds and keeps it."""
    push(reg, images, 'idx', REPO + ':multi')
    push(reg, images, 'gone', SCRATCH + ':v1')
    push(reg, images, 'scr', SCRATCH + ':v1')     # 'gone' untagged
    m = reg.m
    reg.stop()
    r = gc(reg)
    assert r.returncode != 0
    assert 'operation not permitted' in r.stdout + r.stderr
    for dg in R.oci_digests(images['idx'][0]):
        assert blob_path(m.broot, dg).exists()
    r = subprocess.run([R.REGISTRY_BIN, 'garbage-collect', str(reg.config)],
                       capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    reg.start()
    pulls_identical(reg, images, REPO + ':multi', 'idx', tmp_path / 'p1')
    pulls_identical(reg, images, SCRATCH + ':v1', 'scr', tmp_path / 'p2')


def test_blobs_of_protected_tags_cannot_be_deleted_through_the_mount(
        reg, images):
    """With the registry's help the garbage collector never tries; an
    attacker deleting a protected index's child manifest, config or layer
    directly is refused, while the blobs of a mutable repository's image
    go."""
    push(reg, images, 'idx', REPO + ':multi')
    push(reg, images, 'scr', SCRATCH + ':v1')
    m = reg.m
    for dg in R.oci_digests(images['idx'][0]):
        with pytest.raises(PermissionError):
            os.unlink(blob_path(m.root, dg))
        assert blob_path(m.broot, dg).exists()
    only_scr = R.oci_digests(images['scr'][0]) - \
        R.oci_digests(images['idx'][0])
    for dg in only_scr:
        os.unlink(blob_path(m.root, dg))
        assert not blob_path(m.broot, dg).exists()
