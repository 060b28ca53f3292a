# SPDX-License-Identifier: MIT
"""The gate, end to end: real nginx (configured with the two shipped
includes in contrib/nginx/) in front of Debian's docker-registry, whose
storage is a taglockfs mount serving `-o gate=SOCKET`; pushes with skopeo
through nginx.

What a pushing user sees (the product page's step 2 sentence), what gets
through (identical re-push, new tags, `latest`, unlisted repositories,
pushes by digest, multi-arch indexes, a large manifest body byte for
byte), what nginx never asks the gate about (blobs, pulls), and that the
filesystem still refuses when the gate is down.
"""
import hashlib
import json
import os
import time

import pytest

import nginx as N
import registry as R
from tlkutil import OVERWRITE_SENTENCE

REPO = 'test/example'
DENIED = 'denied: ' + OVERWRITE_SENTENCE

POLICY = """\
version: 1
repositories:
  - name: test/example
    immutable: true
"""

POLICY_OPEN = """\
version: 1
repositories:
  - name: test/example
    immutable: false
"""

@pytest.fixture(scope='module')
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp('oci')
    out = {}
    for name, fn, seed in [('A', R.mkoci, 'gate-image-A'),
                           ('B', R.mkoci, 'gate-image-B'),
                           ('I1', R.mkoci_index, 'gate-index-1')]:
        out[name] = (d / name, fn(d / name, seed, 1, 8))
    return out


class Env:
    def __init__(self, m, reg, ngx, images, gate_sock):
        self.m, self.reg, self.ngx, self.images = m, reg, ngx, images
        self.gate_sock = gate_sock

    def push(self, name, ref, extra=()):
        """skopeo copy through nginx; (returncode, stderr)."""
        return self.reg.push(self.images[name][0], ref, host=self.ngx.host,
                             extra=extra)

    def digest(self, name):
        return self.images[name][1]

    def link(self, tag, repo=REPO):
        return R.current_link(self.m.backing, repo, tag)

    def registry_puts(self, tag, repo=REPO):
        """Manifest PUTs of repo:tag the registry itself received."""
        return self.reg.log_text().count(
            '"PUT /v2/%s/manifests/%s HTTP/1.' % (repo, tag))


def _start(tlk, request, images, tmp_path, gate=True, policy=POLICY,
           auth=None, tls=False, gate_sock=None):
    sock = gate_sock or str(tlk.base / 'gate.sock')
    opts = ['gate=%s' % sock] if gate else []
    m = tlk.mount(policy=policy, options=opts, audit=True)
    reg = R.Registry(m.mnt, workdir=tmp_path / 'registry').start()
    ngx = N.Nginx(reg.host, sock, auth=auth, tls=tls).start()

    def fin():
        ngx.cleanup()
        reg.stop()
        rep = getattr(request.node, 'rep_call', None)
        if rep is not None and rep.failed:
            print('==== nginx error log (tail)')
            print(ngx.error_log()[-4000:])
            print('==== nginx access log (tail)')
            print(ngx.access_log()[-4000:])
            print('==== registry log (tail)')
            print(reg.log_text()[-4000:])
    request.addfinalizer(fin)
    return Env(m, reg, ngx, images, sock)


@pytest.fixture
def env(tlk, request, images, tmp_path):
    return _start(tlk, request, images, tmp_path)


def test_overwrite_push_is_denied_with_the_sentence(env):
    rc, err = env.push('A', REPO + ':v1')
    assert rc == 0, err
    assert env.link('v1') == env.digest('A')
    puts = env.registry_puts('v1')

    rc, err = env.push('B', REPO + ':v1')
    print('skopeo stderr: %r' % err)
    assert rc != 0
    assert DENIED in err, err
    assert '500 Internal Server Error' not in err
    # The gate answered; the registry never saw the PUT.
    assert env.registry_puts('v1') == puts
    assert env.link('v1') == env.digest('A')
    assert env.reg.manifest_digest(REPO, 'v1') == env.digest('A')
    # The daemon's log line and audit record, as for a filesystem refusal.
    log = env.m.log_text()
    line = [ln for ln in log.splitlines()
            if 'refused publish_link of %s:v1' % REPO in ln]
    assert line, log[-3000:]
    assert env.digest('A') in line[-1] and env.digest('B') in line[-1]
    assert OVERWRITE_SENTENCE in line[-1] and '(nginx)' in line[-1]
    records = [json.loads(x) for x in env.m.audit.read_text().splitlines()]
    refused = [r for r in records if r.get('decision') == 'refuse']
    assert refused and refused[-1]['tag'] == 'v1', records
    assert refused[-1]['new'] == env.digest('B')
    assert refused[-1]['old'] == env.digest('A')


def test_the_denial_body_is_the_registry_error_format(env):
    rc, err = env.push('A', REPO + ':v1')
    assert rc == 0, err
    _, _, body = env.reg.manifest(REPO, 'v1')
    other = body + b' '     # the same manifest, another digest
    status, headers, resp = env.ngx.request(
        'PUT', '/v2/%s/manifests/v1' % REPO, data=other,
        headers={'Content-Type': R.OCI_MANIFEST})
    assert status == 403, resp
    assert headers.get('Content-Type', '').startswith('application/json')
    err = json.loads(resp)['errors'][0]
    assert err['code'] == 'DENIED'
    assert err['message'] == OVERWRITE_SENTENCE
    assert err['detail'] == {
        'repository': REPO, 'tag': 'v1', 'current': env.digest('A'),
        'attempted': 'sha256:' + hashlib.sha256(other).hexdigest()}


def test_allowed_pushes_go_through(env):
    assert env.push('A', REPO + ':v1')[0] == 0
    # identical re-push
    rc, err = env.push('A', REPO + ':v1')
    assert rc == 0, err
    # a new tag, and latest overwritten
    assert env.push('B', REPO + ':v2')[0] == 0
    assert env.push('A', REPO + ':latest')[0] == 0
    rc, err = env.push('B', REPO + ':latest')
    assert rc == 0, err
    assert env.link('latest') == env.digest('B')
    # an unlisted repository overwrites freely
    assert env.push('A', 'other/app:v1')[0] == 0
    rc, err = env.push('B', 'other/app:v1')
    assert rc == 0, err
    assert env.link('v1', 'other/app') == env.digest('B')
    # a multi-arch index: children by digest, the index by tag
    rc, err = env.push('I1', REPO + ':multi')
    assert rc == 0, err
    assert env.link('multi') == env.digest('I1')
    assert OVERWRITE_SENTENCE not in env.m.log_text()


def test_push_by_digest_goes_through(env):
    assert env.push('A', REPO + ':v1')[0] == 0
    _, _, body = env.reg.manifest(REPO, 'v1')
    status, _, resp = env.ngx.request(
        'PUT', '/v2/%s/manifests/%s' % (REPO, env.digest('A')), data=body,
        headers={'Content-Type': R.OCI_MANIFEST})
    assert status == 201, resp


def test_large_manifest_body_reaches_the_registry_byte_for_byte(env):
    """A manifest PUT the gate sends on is re-sent by nginx with its whole
    buffered body: the digest the registry stores is the body's."""
    assert env.push('A', REPO + ':v1')[0] == 0
    _, _, body = env.reg.manifest(REPO, 'v1')
    doc = json.loads(body)
    doc.setdefault('annotations', {})['padding'] = 'x' * (3 << 20)
    big = json.dumps(doc).encode()
    want = 'sha256:' + hashlib.sha256(big).hexdigest()
    status, headers, resp = env.ngx.request(
        'PUT', '/v2/%s/manifests/big' % REPO, data=big,
        headers={'Content-Type': R.OCI_MANIFEST})
    assert status == 201, resp[:500]
    assert headers.get('Docker-Content-Digest') == want
    assert env.link('big') == want
    # ... and an overwrite of it is denied by the gate.
    status, _, resp = env.ngx.request(
        'PUT', '/v2/%s/manifests/big' % REPO, data=big + b' ',
        headers={'Content-Type': R.OCI_MANIFEST})
    assert status == 403 and OVERWRITE_SENTENCE.encode() in resp


def test_nginx_asks_the_gate_only_for_manifest_puts_by_tag(env):
    assert env.push('A', REPO + ':v1')[0] == 0
    rc, err = env.reg.pull(REPO + ':v1', env.m.mnt.parent / 'pulled')
    assert rc == 0, err
    gate = 'unix:' + env.gate_sock
    asked = [ln for ln in env.ngx.access_log().splitlines() if gate in ln]
    others = [ln for ln in env.ngx.access_log().splitlines()
              if gate not in ln]
    assert asked and all('"PUT /v2/%s/manifests/v1 ' % REPO in ln
                         for ln in asked), asked
    assert any('/blobs/' in ln for ln in others), others


def test_policy_edit_applies_to_the_gate(env):
    assert env.push('A', REPO + ':v1')[0] == 0
    assert DENIED in env.push('B', REPO + ':v1')[1]
    env.m.set_policy(POLICY_OPEN)
    rc, err = env.push('B', REPO + ':v1')
    assert rc == 0, err
    assert env.link('v1') == env.digest('B')


def test_gate_down_the_filesystem_still_refuses(tlk, request, images,
                                                tmp_path):
    """nginx asks a socket nobody answers on: every manifest PUT goes on
    to the registry (502 -> @taglockfs_registry); allowed pushes work and
    the overwrite is refused by the filesystem (the registry's 500)."""
    e = _start(tlk, request, images, tmp_path, gate=False,
               gate_sock=str(tlk.base / 'nobody.sock'))
    rc, err = e.push('A', REPO + ':v1')
    assert rc == 0, err
    assert e.push('A', REPO + ':v1')[0] == 0
    assert e.push('B', REPO + ':latest')[0] == 0
    rc, err = e.push('B', REPO + ':v1')
    assert rc != 0
    assert '500 Internal Server Error' in err, err
    assert e.link('v1') == e.digest('A')
    assert OVERWRITE_SENTENCE in e.m.log_text()


@pytest.mark.parametrize('tls', [False, True], ids=['http', 'https'])
def test_auth_basic_is_checked_before_the_gate(tlk, request, images,
                                               tmp_path, tls):
    e = _start(tlk, request, images, tmp_path, auth=('alice', 'pw1'),
               tls=tls)
    creds = ('--dest-creds', 'alice:pw1')
    rc, err = e.push('A', REPO + ':v1', extra=creds)
    assert rc == 0, err
    mark = len(e.m.log_text())
    # Without credentials: 401 from nginx, the gate is never asked.
    status, _, _ = e.ngx.request('PUT', '/v2/%s/manifests/v1' % REPO,
                                 data=b'{}')
    assert status == 401
    time.sleep(0.2)
    assert 'refused' not in e.m.log_text()[mark:]
    # With them, the overwrite is denied in words.
    rc, err = e.push('B', REPO + ':v1', extra=creds)
    assert rc != 0 and DENIED in err, err
    assert e.link('v1') == e.digest('A')


def test_only_nginx_group_may_ask(env):
    """The socket is 0660 for www-data (Debian's nginx workers): another
    local user cannot make the daemon log and audit denials."""
    import grp
    import stat as st
    import subprocess
    info = os.stat(env.gate_sock)
    assert st.S_IMODE(info.st_mode) == 0o660
    assert info.st_gid == grp.getgrnam('www-data').gr_gid
    probe = ('import socket; s = socket.socket(socket.AF_UNIX); '
             's.connect(%r)' % env.gate_sock)
    nobody = subprocess.run(['setpriv', '--reuid=nobody', '--regid=nogroup',
                             '--clear-groups', '/usr/bin/python3', '-c',
                             probe], capture_output=True, text=True)
    assert nobody.returncode != 0 and 'Permission denied' in nobody.stderr
    worker = subprocess.run(['setpriv', '--reuid=www-data',
                             '--regid=www-data', '--init-groups',
                             '/usr/bin/python3', '-c', probe],
                            capture_output=True, text=True)
    assert worker.returncode == 0, worker.stderr
