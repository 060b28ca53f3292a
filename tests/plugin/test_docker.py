# SPDX-License-Identifier: MIT
"""A registry container on a taglockfs volume under a real dockerd: the
legacy plugin (taglockfs-plugin on /run/docker/plugins/NAME.sock) and the
managed plugin (scripts/plugin-build.sh, docker plugin create/enable).
Pushes go through skopeo to the registry's loopback port."""
import json
import os
import subprocess
import tempfile
import time

import pytest

import engines
import plugutil
from plugutil import (BUILD, SRC, manifest_digest, mkoci, record_calls,
                      registry_up, skopeo_push, wait_for)

REPO = 'test/example'
MUTABLE_POLICY = """version: 1
repositories:
  - name: test/example
    immutable: false
  - name: "test/**"
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


@pytest.fixture(scope='module')
def images():
    d = tempfile.mkdtemp(prefix='tlkoci-', dir='/tmp')
    try:
        yield {seed: (os.path.join(d, seed), mkoci(os.path.join(d, seed), seed))
               for seed in 'ABCDEF'}
    finally:
        subprocess.run(['rm', '-rf', d])


@pytest.fixture(scope='module')
def regimage(dockerd):
    work = tempfile.mkdtemp(prefix='tlkimg-', dir='/tmp')
    tar = engines.registry_tar(work)
    dockerd.docker('import', '-c', 'ENTRYPOINT ' + engines.REGISTRY_ENTRYPOINT, tar,
                   'tlk-registry:test')
    subprocess.run(['rm', '-rf', work])
    return 'tlk-registry:test'


class Registry:
    """The registry container and the checks a user would make."""

    def __init__(self, dockerd, image, volume, name):
        self.d = dockerd
        self.image = image
        self.volume = volume
        self.name = name
        self.host = '127.0.0.1:%d' % plugutil.free_port()

    def run(self):
        self.d.docker('run', '-d', '--name', self.name, '--network', 'host',
                      '-e', 'REGISTRY_HTTP_ADDR=' + self.host,
                      '-v', self.volume + ':/var/lib/registry', self.image)
        self.wait_up()

    def wait_up(self):
        try:
            wait_for(lambda: registry_up(self.host), 30, 'the registry on ' + self.host)
        except AssertionError:
            logs = self.d.docker('logs', self.name, check=False)
            raise AssertionError('registry not up:\n' + logs.stdout + logs.stderr)

    def push(self, images, seed, tag):
        return skopeo_push(images[seed][0], self.host, '%s:%s' % (REPO, tag))

    def must_push(self, images, seed, tag):
        rc, out = self.push(images, seed, tag)
        assert rc == 0, 'push %s to %s refused: %s' % (seed, tag, out)
        assert self.digest(tag) == images[seed][1]

    def must_refuse(self, images, seed, tag):
        before = self.digest(tag)
        rc, out = self.push(images, seed, tag)
        assert rc != 0, 'overwrite of immutable %s:%s with %s was accepted' % (REPO, tag, seed)
        assert '500' in out or 'Internal Server Error' in out, out
        assert self.digest(tag) == before, 'the refused push changed the tag'

    def digest(self, tag):
        return manifest_digest(self.host, REPO, tag)


def inspect_volume(d, name):
    (vol,) = json.loads(d.docker('volume', 'inspect', name).stdout)
    return vol


def write_policy(path, text):
    tmp = path + '.new'
    with open(tmp, 'w') as f:
        f.write(text)
    os.rename(tmp, path)


def push_until(reg, images, seeds, tag, want_ok, timeout=10):
    """Push fresh seeds until the outcome is `want_ok` (the daemon applies a
    policy edit to the next operation; allow for the file notification)."""
    end = time.time() + timeout
    for seed in seeds:
        rc, out = reg.push(images, seed, tag)
        if (rc == 0) == want_ok:
            return seed
        if time.time() > end:
            break
        time.sleep(0.3)
    raise AssertionError('policy edit not applied: push to %s still %s' %
                         (tag, 'refused' if want_ok else 'accepted'))


def scenario_pushes(reg, images):
    reg.must_push(images, 'A', 'v1')
    reg.must_refuse(images, 'B', 'v1')
    reg.must_push(images, 'A', 'v1')        # byte-identical re-push is fine
    reg.must_push(images, 'A', 'latest')
    reg.must_push(images, 'B', 'latest')    # latest stays mutable


def test_legacy_plugin(dockerd, regimage, images, plugins, policy, request):
    name = 'tlkt%d' % os.getpid()
    p = plugins.start(sock='/run/docker/plugins/%s.sock' % name)
    reg = Registry(dockerd, regimage, 'regdata', 'tlkreg')
    request.addfinalizer(lambda: dockerd.docker('rm', '-f', 'tlkreg', check=False))
    request.addfinalizer(lambda: dockerd.docker('volume', 'rm', '-f', 'regdata', check=False))

    dockerd.docker('volume', 'create', '-d', name, '-o', 'policy=' + policy, 'regdata')
    vol = inspect_volume(dockerd, 'regdata')
    assert vol['Driver'] == name and vol['Mountpoint'] == p.mnt('regdata')
    assert vol['Status']['mounted'] is True
    bad = dockerd.docker('volume', 'create', '-d', name, '-o', 'policy=' + policy,
                         '-o', 'sise=1G', 'other', check=False)
    assert bad.returncode != 0 and "unknown option 'sise'" in bad.stderr, bad.stderr

    reg.run()
    scenario_pushes(reg, images)
    assert inspect_volume(dockerd, 'regdata')['Status']['refused_writes'] >= 1

    # A policy edit applies live: test/example becomes mutable, then not.
    write_policy(policy, MUTABLE_POLICY)
    seed = push_until(reg, images, 'CDEF', 'v1', want_ok=True)
    assert reg.digest('v1') == images[seed][1]
    write_policy(policy, plugutil.POLICY)
    push_until(reg, images, 'ABCDEF', 'v1', want_ok=False)
    v1 = reg.digest('v1')

    # Stop and start the container: the tags are still there.
    dockerd.docker('stop', 'tlkreg')
    dockerd.docker('start', 'tlkreg')
    reg.wait_up()
    assert reg.digest('v1') == v1 and reg.digest('latest') == images['B'][1]

    # Restart the plugin, then the container: still there, still protected.
    p.stop()
    p2 = plugins.start(sock=p.sock)
    dockerd.docker('restart', 'tlkreg')
    reg.wait_up()
    assert reg.digest('v1') == v1
    reg.must_refuse(images, 'A' if v1 != images['A'][1] else 'B', 'v1')

    # Restart dockerd: it asks the plugin for its volumes again.
    dockerd.stop()
    dockerd.start()
    assert 'regdata' in dockerd.docker('volume', 'ls', '-q').stdout.split()
    dockerd.docker('start', 'tlkreg')
    reg.wait_up()
    assert reg.digest('v1') == v1

    # Remove: refused while a container uses it, then everything goes.
    busy = dockerd.docker('volume', 'rm', 'regdata', check=False)
    assert busy.returncode != 0
    dockerd.docker('rm', '-f', 'tlkreg')
    dockerd.docker('volume', 'rm', 'regdata')
    assert 'regdata' not in dockerd.docker('volume', 'ls', '-q').stdout.split()
    assert not os.path.exists(p2.vol_dir('regdata'))
    assert plugutil.taglockfs_mounts(p2.mnt('regdata')) == []
    assert plugutil.ok(p2.sock, 'VolumeDriver.List') == {'Volumes': []}
    record_calls('docker-legacy', p.calls() + ['--- plugin restarted ---'] + p2.calls())


def managed_calls(dockerd):
    return [line.split('call ', 1)[1].split('"')[0] for line in dockerd.log().splitlines()
            if 'taglockfs-plugin: call ' in line]


def test_managed_plugin(dockerd, regimage, images, work, request):
    out = os.path.join(work, 'managed')
    build = subprocess.run([os.path.join(SRC, 'scripts', 'plugin-build.sh'), '-b', BUILD,
                            '-o', out], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    poldir = os.path.join(work, 'policies')
    os.makedirs(poldir)
    write_policy(os.path.join(poldir, 'policy.yaml'), plugutil.POLICY)
    name = 'tlkm%d:test' % os.getpid()
    request.addfinalizer(lambda: dockerd.docker('plugin', 'rm', '-f', name, check=False))
    request.addfinalizer(lambda: dockerd.docker('volume', 'rm', '-f', 'regm', 'regdef',
                                                check=False))
    request.addfinalizer(lambda: dockerd.docker('rm', '-f', 'tlkregm', check=False))

    dockerd.docker('plugin', 'create', name, out)
    dockerd.docker('plugin', 'set', name, 'policy.source=' + poldir,
                   'args=--default-policy /etc/taglockfs/policy.yaml')
    enable = dockerd.docker('plugin', 'enable', name, check=False)
    if enable.returncode != 0:
        pytest.fail('dockerd refused to enable the managed plugin: %s' % enable.stderr.strip())

    # The plugin's args setting reaches taglockfs-plugin: no policy= needed.
    dockerd.docker('volume', 'create', '-d', name, 'regdef')
    assert inspect_volume(dockerd, 'regdef')['Status']['policy'] == '/etc/taglockfs/policy.yaml'
    dockerd.docker('volume', 'rm', 'regdef')
    dockerd.docker('volume', 'create', '-d', name, '-o', 'policy=/etc/taglockfs/policy.yaml',
                   'regm')
    assert inspect_volume(dockerd, 'regm')['Status']['mounted'] is True
    reg = Registry(dockerd, regimage, 'regm', 'tlkregm')
    reg.run()
    scenario_pushes(reg, images)
    assert inspect_volume(dockerd, 'regm')['Status']['refused_writes'] >= 1

    dockerd.docker('rm', '-f', 'tlkregm')
    dockerd.docker('volume', 'rm', 'regm')
    assert 'regm' not in dockerd.docker('volume', 'ls', '-q').stdout.split()
    dockerd.docker('plugin', 'disable', name)
    dockerd.docker('plugin', 'rm', name)
    record_calls('docker-managed', managed_calls(dockerd))
