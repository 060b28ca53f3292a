# SPDX-License-Identifier: MIT
"""End to end: Debian's docker-registry (distribution 2.8) with its
filesystem storage on a taglockfs mount, images pushed and pulled with
skopeo, exactly what an operator would check.

The product page's Verification section (reference/acr-immutable-
repository.txt), steps 1-6, plus: identical re-push, byte-identical
pulls, multi-layer images, multi-arch OCI image indexes, unlisted
repositories, and manifest DELETE of a protected tag's image.
"""
import json
import re
import time

import pytest

import registry as R
from tlkutil import OVERWRITE_SENTENCE

REPO = 'test/example'

POLICY = """\
version: 1
repositories:
  - name: test/example
    immutable: true
"""

# Step 5 of the product page: clear the Immutable check box.
POLICY_OPEN = """\
version: 1
repositories:
  - name: test/example
    immutable: false
"""


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    """Locally generated OCI layouts: name -> (dir, top-level digest)."""
    d = tmp_path_factory.mktemp('oci')
    out = {}
    for name, fn, seed, layers, kb in [
            ('A', R.mkoci, 'e2e-image-A', 1, 16),
            ('B', R.mkoci, 'e2e-image-B', 1, 16),
            ('M5a', R.mkoci, 'e2e-five-layers-a', 5, 32),
            ('M5b', R.mkoci, 'e2e-five-layers-b', 5, 32),
            ('I1', R.mkoci_index, 'e2e-index-1', 1, 8),
            ('I2', R.mkoci_index, 'e2e-index-2', 1, 8)]:
        out[name] = (d / name, fn(d / name, seed, layers, kb))
    digests = [dg for _, dg in out.values()]
    assert len(set(digests)) == len(digests), 'seeds must give distinct images'
    return out


class Env:
    """One taglockfs mount with a registry whose rootdirectory is the
    mount point."""

    def __init__(self, m, reg, images, tmp):
        self.m = m
        self.reg = reg
        self.images = images
        self.tmp = tmp
        self.n = 0

    def push(self, name, ref):
        return self.reg.push(self.images[name][0], ref)

    def digest(self, name):
        return self.images[name][1]

    def resolve(self, tag, repo=REPO):
        """Digest the registry serves for repo:tag (HEAD, Docker-Content-
        Digest)."""
        return self.reg.manifest_digest(repo, tag)

    def backing_link(self, tag, repo=REPO):
        return R.current_link(self.m.backing, repo, tag)

    def mount_link(self, tag, repo=REPO):
        return R.current_link(self.m.mnt, repo, tag)

    def assert_tag(self, tag, name, repo=REPO):
        want = self.digest(name)
        assert self.resolve(tag, repo) == want, \
            '%s:%s does not resolve to image %s over HTTP' % (repo, tag, name)
        assert self.backing_link(tag, repo) == want, \
            'backing current/link of %s:%s is not image %s' % (repo, tag, name)
        assert self.mount_link(tag, repo) == want

    def pull_matches(self, ref, name):
        """Pull ref back with skopeo; assert every manifest, config and
        layer equals what was generated for image `name`."""
        self.n += 1
        dest = self.tmp / ('pull%d' % self.n)
        rc, err = self.reg.pull(ref, dest)
        assert rc == 0, 'pull %s failed: %s' % (ref, err)
        src = self.images[name][0]
        assert R.oci_top_digest(dest) == self.digest(name)
        assert R.oci_digests(dest) == R.oci_digests(src)
        for dg in R.oci_digests(src):
            assert R.oci_blob(dest, dg) == R.oci_blob(src, dg)

    def refusals(self, start=0):
        return self.m.log_text()[start:].count(OVERWRITE_SENTENCE)


def _start(tlk, request, images, tmp_path, **mount_kw):
    m = tlk.mount(policy=mount_kw.pop('policy', POLICY), **mount_kw)
    reg = R.Registry(m.mnt, workdir=tmp_path / 'registry')
    reg.start()

    def fin():
        reg.stop()
        rep = getattr(request.node, 'rep_call', None)
        if rep is not None and rep.failed:
            print('==== registry log (tail)')
            print(reg.log_text()[-5000:])
    request.addfinalizer(fin)
    return Env(m, reg, images, tmp_path)


@pytest.fixture
def env(tlk, request, images, tmp_path):
    return _start(tlk, request, images, tmp_path)


def _expect_refused_push(env, name, ref):
    """Push image `name` as ref; assert the registry refused the manifest
    PUT with HTTP 500 caused by EPERM from storage, and skopeo failed
    saying so."""
    repo, tag = ref.rsplit(':', 1)
    mark = env.reg.log_mark()
    rc, err = env.push(name, ref)
    print('refused push of %s as %s: rc=%d stderr=%r' % (name, ref, rc, err))
    assert rc != 0, 'push of %s over %s succeeded: %s' % (name, ref, err)
    assert 'received unexpected HTTP status: 500 Internal Server Error' \
        in err, err
    want = '"PUT /v2/%s/manifests/%s HTTP/1.1" 500' % (repo, tag)
    deadline = time.monotonic() + 3     # the access log line follows the reply
    while True:
        log = env.reg.log_text()[mark:]
        if want in log or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert want in log, \
        'registry log has no HTTP 500 for the manifest PUT:\n' + log[-3000:]
    denied = [ln for ln in log.splitlines()
              if 'level=error' in ln and 'operation not permitted' in ln]
    assert denied, 'registry log does not show EPERM:\n' + log[-3000:]
    print('registry log: %s' % re.search(r'err\.detail="[^"]*"',
                                          denied[0]).group(0))
    return err


@pytest.mark.parametrize('inplace,how', [(False, 'inplace'), (True, 'rename')],
                         ids=['mount-edit-inplace', 'inplace-mount-edit-rename'])
def test_product_page_verification(tlk, request, images, tmp_path, inplace, how):
    e = _start(tlk, request, images, tmp_path, inplace=inplace)
    A, B = e.digest('A'), e.digest('B')

    # 1. push a new image with a tag other than latest.
    rc, err = e.push('A', REPO + ':v1')
    assert rc == 0, err
    e.assert_tag('v1', 'A')

    # 2. push another image with the same tag: denied.
    mark = e.m.log_mark()
    _expect_refused_push(e, 'B', REPO + ':v1')
    hit = e.m.wait_log(re.escape(OVERWRITE_SENTENCE), timeout=5, start=mark)
    log = e.m.log_text()[mark:]
    line = log[log.rfind('\n', 0, hit.start()) + 1:log.find('\n', hit.end())]
    print('daemon log line:', line)
    for what in (REPO, 'v1', A[7:19], B[7:19]):
        assert what in log, 'refusal log does not name %s:\n%s' % (what, log)
    e.assert_tag('v1', 'A')
    stray = (e.m.backing / 'docker/registry/v2/repositories' / REPO /
             '_manifests/tags/v1/index/sha256' / B[7:] / 'link')
    assert not stray.exists(), 'refused push left an index entry for B'

    # The registry's own answer to the manifest PUT (skopeo prints only
    # the status): HTTP 500 UNKNOWN with the OS error as detail.
    status, _, body = e.reg.request(
        'PUT', '/v2/%s/manifests/v1' % REPO,
        headers={'Content-Type': R.OCI_MANIFEST},
        data=R.oci_blob(e.images['B'][0], B))
    print('manifest PUT of B as v1: HTTP %d %s' % (status, body))
    assert status == 500, body
    doc = json.loads(body)
    assert doc['errors'][0]['code'] == 'UNKNOWN', body
    detail = json.dumps(doc['errors'][0].get('detail'))
    assert '"Err": 1' in detail or 'operation not permitted' in detail, body
    e.assert_tag('v1', 'A')
    e.pull_matches(REPO + ':v1', 'A')

    # 3. and 4. latest stays mutable: both pushes succeed, B wins.
    rc, err = e.push('A', REPO + ':latest')
    assert rc == 0, err
    e.assert_tag('latest', 'A')
    rc, err = e.push('B', REPO + ':latest')
    assert rc == 0, err
    e.assert_tag('latest', 'B')
    e.assert_tag('v1', 'A')

    # 5. clear the Immutable check box: edit the policy, no remount.
    e.m.set_policy(POLICY_OPEN, how=how)

    # 6. push B as v1 again: succeeds now. The contract: a policy change
    # applies to the next operation.
    rc, err = e.push('B', REPO + ':v1')
    assert rc == 0, 'push after clearing Immutable still fails: %s' % err
    e.assert_tag('v1', 'B')
    e.pull_matches(REPO + ':v1', 'B')
    assert e.m.alive()


def test_identical_repush_is_not_an_overwrite(env):
    rc, err = env.push('A', REPO + ':v1')
    assert rc == 0, err
    mark = env.m.log_mark()
    for _ in range(2):
        rc, err = env.push('A', REPO + ':v1')
        assert rc == 0, 'identical re-push refused: %s' % err
    env.assert_tag('v1', 'A')
    assert env.refusals(mark) == 0
    # ... and the tag is still protected afterwards.
    _expect_refused_push(env, 'B', REPO + ':v1')
    env.assert_tag('v1', 'A')


def test_every_tag_pulls_back_byte_identical(env):
    pushed = {'v1': 'A', 'v2': 'B', 'latest': 'B', 'five': 'M5a',
              'multi': 'I1'}
    for tag, name in pushed.items():
        rc, err = env.push(name, '%s:%s' % (REPO, tag))
        assert rc == 0, '%s: %s' % (tag, err)
    assert sorted(env.reg.tags(REPO)) == sorted(pushed)
    for tag, name in pushed.items():
        env.assert_tag(tag, name)
        env.pull_matches('%s:%s' % (REPO, tag), name)
        # by digest, too
        env.pull_matches('%s@%s' % (REPO, env.digest(name)), name)


def test_multi_layer_image_under_immutable_tag(env):
    rc, err = env.push('M5a', REPO + ':big')
    assert rc == 0, err
    layers = json.loads(R.oci_blob(*env.images['M5a']))['layers']
    assert len(layers) == 5
    _expect_refused_push(env, 'M5b', REPO + ':big')
    env.assert_tag('big', 'M5a')
    env.pull_matches(REPO + ':big', 'M5a')


def test_multi_arch_index_under_immutable_tag(env):
    I1 = env.digest('I1')
    rc, err = env.push('I1', REPO + ':multi')
    assert rc == 0, err
    status, headers, body = env.reg.manifest(REPO, 'multi')
    assert status == 200
    assert headers.get('Content-Type') == R.OCI_INDEX
    assert body == R.oci_blob(*env.images['I1'])
    children = [d['digest'] for d in json.loads(body)['manifests']]
    assert len(children) == 2
    for child in children:
        status, _, _ = env.reg.manifest(REPO, child, method='HEAD')
        assert status == 200, child

    mark = env.m.log_mark()
    _expect_refused_push(env, 'I2', REPO + ':multi')
    env.m.wait_log(re.escape(OVERWRITE_SENTENCE), timeout=5, start=mark)
    env.assert_tag('multi', 'I1')
    rc, err = env.push('I1', REPO + ':multi')
    assert rc == 0, 'identical re-push of an index refused: %s' % err
    env.pull_matches(REPO + ':multi', 'I1')
    assert env.resolve('multi') == I1


def test_unlisted_repository_overwrites_freely(env):
    for repo in ('other/free', 'test/example-two', 'test'):
        rc, err = env.push('A', repo + ':v1')
        assert rc == 0, err
        env.assert_tag('v1', 'A', repo=repo)
        rc, err = env.push('B', repo + ':v1')
        assert rc == 0, '%s:v1 overwrite refused: %s' % (repo, err)
        env.assert_tag('v1', 'B', repo=repo)
    # the listed repository in the same registry is still protected
    rc, err = env.push('A', REPO + ':v1')
    assert rc == 0, err
    _expect_refused_push(env, 'B', REPO + ':v1')
    env.assert_tag('v1', 'A')


def test_delete_of_protected_manifest_refused(env):
    A, B = env.digest('A'), env.digest('B')
    rc, err = env.push('A', REPO + ':v1')
    assert rc == 0, err
    status, body = env.reg.delete_manifest(REPO, A)
    print('DELETE manifest of protected v1: HTTP %d %s' % (status, body))
    assert not 200 <= status < 300, \
        'DELETE of the manifest v1 points to answered %d' % status
    env.assert_tag('v1', 'A')
    status, _, _ = env.reg.manifest(REPO, A, method='HEAD')
    assert status == 200, 'manifest %s gone after refused DELETE' % A
    env.pull_matches(REPO + ':v1', 'A')

    # The same DELETE is allowed where nothing protects the image: a
    # mutable tag in the protected repository and an unlisted repository.
    rc, err = env.push('B', REPO + ':latest')
    assert rc == 0, err
    status, body = env.reg.delete_manifest(REPO, B)
    assert status == 202, 'DELETE of a latest-only manifest: %d %s' % (
        status, body)
    assert env.resolve('latest') is None
    rc, err = env.push('A', 'other/free:v1')
    assert rc == 0, err
    status, body = env.reg.delete_manifest('other/free', A)
    assert status == 202, 'DELETE in an unlisted repository: %d %s' % (
        status, body)
    assert env.resolve('v1', repo='other/free') is None
    env.assert_tag('v1', 'A')


def test_enabling_immutability_protects_existing_tags(tlk, request, images,
                                                      tmp_path):
    """The product page: after you enable the feature, existing tags
    cannot be overwritten either. v1 has pointed to B and then A while the
    repository was mutable, so B's index entry already exists and only the
    rewrite of current/link can stop the overwrite."""
    e = _start(tlk, request, images, tmp_path, policy=POLICY_OPEN)
    A = e.digest('A')
    for name in ('B', 'A'):
        rc, err = e.push(name, REPO + ':v1')
        assert rc == 0, err
    e.assert_tag('v1', 'A')
    e.m.set_policy(POLICY, how='rename')
    mark = e.m.log_mark()
    _expect_refused_push(e, 'B', REPO + ':v1')
    e.m.wait_log(re.escape(OVERWRITE_SENTENCE), timeout=5, start=mark)
    e.assert_tag('v1', 'A')
    link = (e.m.backing / 'docker/registry/v2/repositories' / REPO /
            '_manifests/tags/v1/current/link').read_bytes()
    assert link == A.encode(), link
    rc, err = e.push('A', REPO + ':v1')
    assert rc == 0, 'identical re-push refused: %s' % err
    rc, err = e.push('B', REPO + ':latest')
    assert rc == 0, err
    e.assert_tag('latest', 'B')
