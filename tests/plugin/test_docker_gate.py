# SPDX-License-Identifier: MIT
"""`docker push` through nginx and the gate, with a real dockerd: the
overwrite of a protected tag prints the product page's sentence
(Verification step 2), an identical re-push and `latest` go through.

The registry is Debian's docker-registry on the host over a taglockfs
mount serving `-o gate=SOCKET`, with nginx in front configured by the
shipped includes (tests/integration/nginx.py); dockerd pushes to nginx's
loopback port (127.0.0.0/8 is an insecure registry to docker by
default)."""
import os
import subprocess
import sys
import tempfile

import pytest

import engines

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'integration'))
import nginx as N  # noqa: E402
import registry as R  # noqa: E402
import tlkutil  # noqa: E402

SENTENCE = 'The requested tag already exists and cannot be overwritten.'
POLICY = """\
version: 1
repositories:
  - name: test/example
    immutable: true
"""


@pytest.fixture(scope='module')
def dockerd():
    d = engines.Dockerd(tempfile.mkdtemp(prefix='tlkd-', dir='/tmp'))
    try:
        d.start()
        yield d
    finally:
        left = d.cleanup()
        assert not left, 'mounts left by dockerd: %s' % left


@pytest.fixture
def stack(request):
    tlk = tlkutil.TlkFactory()
    sock = str(tlk.base / 'gate.sock')
    m = tlk.mount(policy=POLICY, options=['gate=%s' % sock])
    reg = R.Registry(m.mnt, workdir=tlk.base / 'registry').start()
    ngx = N.Nginx(reg.host, sock).start()
    yield m, ngx
    ngx.cleanup()
    reg.stop()
    rep = getattr(request.node, 'rep_call', None)
    if rep is not None and rep.failed:
        print(m.log_text()[-3000:])
        print(ngx.access_log()[-3000:])
    problems = tlk.close()
    assert not problems, problems


def image(dockerd, ref, text):
    """A one-file image named `ref`, different for each `text`."""
    work = tempfile.mkdtemp(prefix='tlkimg-', dir='/tmp')
    tar = os.path.join(work, 'rootfs.tar')
    engines.make_rootfs_tar(tar, [], extra={'/hello.txt': text})
    dockerd.docker('import', tar, ref)
    subprocess.run(['rm', '-rf', work])


def push(dockerd, ref):
    p = dockerd.docker('push', ref, check=False, timeout=120)
    return p.returncode, p.stdout + p.stderr


def test_docker_push_overwrite_prints_the_sentence(dockerd, stack):
    m, ngx = stack
    ref = '%s/test/example:v1' % ngx.host
    image(dockerd, ref, 'first image\n')
    rc, out = push(dockerd, ref)
    assert rc == 0, out
    before = R.current_link(m.backing, 'test/example', 'v1')
    assert before and before.startswith('sha256:')
    rc, out = push(dockerd, ref)            # identical re-push
    assert rc == 0, out

    image(dockerd, ref, 'second image\n')   # the same tag, other content
    rc, out = push(dockerd, ref)
    print('docker push printed:\n' + out)
    assert rc != 0
    assert 'denied: ' + SENTENCE in out, out
    assert R.current_link(m.backing, 'test/example', 'v1') == before

    latest = '%s/test/example:latest' % ngx.host
    dockerd.docker('tag', ref, latest)
    rc, out = push(dockerd, latest)
    assert rc == 0, out
