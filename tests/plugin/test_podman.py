# SPDX-License-Identifier: MIT
"""Podman (with runc) uses taglockfs-plugin through containers.conf
[engine.volume_plugins]: a container writing into a protected tag path of
its volume is refused; mutable tags and other files work."""
import os
import tempfile

import pytest

import engines
import plugutil
from plugutil import hexdigest, record_calls, tag_link

A, B = hexdigest('a'), hexdigest('b')
TAGS = '/data/docker/registry/v2/repositories/test/example/_manifests/tags'

# Runs inside the container; each step prints a word the test looks for.
SCRIPT = """
L=%(tags)s/v1/current
mkdir -p $L %(tags)s/latest/current
printf %(a)s > $L/link && echo CREATE_OK
printf %(b)s >/tmp/b
cp /tmp/b $L/link 2>/tmp/err && echo OVERWRITE_OK || echo "OVERWRITE_REFUSED $(cat /tmp/err)"
rm $L/link 2>/dev/null && echo RM_OK || echo RM_REFUSED
mv $L /data/moved 2>/dev/null && echo MV_OK || echo MV_REFUSED
echo "LINK=$(cat $L/link)"
printf %(a)s > %(tags)s/latest/current/link && printf %(b)s > %(tags)s/latest/current/link && echo LATEST_OK
echo hello > /data/plain && echo PLAIN_OK
""" % {'tags': TAGS, 'a': A, 'b': B}


@pytest.fixture
def podman(plugins, request):
    name = 'tlkp%d' % os.getpid()
    p = plugins.start(sock='/run/docker/plugins/%s.sock' % name)
    pm = engines.Podman(tempfile.mkdtemp(prefix='tlkpm-', dir='/tmp'), {name: p.sock})
    pm.plugin, pm.driver = p, name
    yield pm
    left = pm.cleanup()
    assert not left, 'mounts left by podman: %s' % left


@pytest.fixture
def bbimage(podman):
    tar = engines.busybox_tar(podman.root)
    podman.podman('import', tar, 'localhost/tlk-busybox:test')
    return 'localhost/tlk-busybox:test'


def run(podman, image, script):
    return podman.podman('run', '--rm', '--network', 'host', '--ulimit', 'nofile=1024:1024',
                         '--ulimit', 'nproc=4096:4096',
                         '-v', 'pvol:/data', image, 'sh', '-c', script, check=False)


def test_podman_volume(podman, bbimage, policy):
    p = podman.plugin
    podman.podman('volume', 'create', '--driver', podman.driver, '-o', 'policy=' + policy, 'pvol')
    assert plugutil.taglockfs_mounts(p.mnt('pvol')) == [p.mnt('pvol')]
    bad = podman.podman('volume', 'create', '--driver', podman.driver, 'nopolicy', check=False)
    assert bad.returncode != 0

    out = run(podman, bbimage, SCRIPT)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    for word in ('CREATE_OK', 'RM_REFUSED', 'MV_REFUSED', 'LINK=' + A, 'LATEST_OK',
                 'PLAIN_OK'):
        assert word in text, (word, text)
    assert 'OVERWRITE_REFUSED' in text and 'not permitted' in text, text

    # What the container saw is what the backing directory holds.
    data = p.data('pvol')
    assert plugutil.read_text(tag_link(data, 'test/example', 'v1')) == A
    assert plugutil.read_text(tag_link(data, 'test/example', 'latest')) == B
    st = plugutil.ok(p.sock, 'VolumeDriver.Get', {'Name': 'pvol'})['Volume']['Status']
    assert st['refused_writes'] >= 1 and st['mount_ids'] == 0

    # A second container sees the same data.
    again = run(podman, bbimage, 'cat %s/v1/current/link; cat /data/plain' % TAGS)
    assert again.returncode == 0 and A in again.stdout and 'hello' in again.stdout

    podman.podman('volume', 'rm', 'pvol')
    assert 'pvol' not in podman.podman('volume', 'ls', '-q').stdout.split()
    assert not os.path.exists(p.vol_dir('pvol'))
    assert plugutil.taglockfs_mounts(p.mnt('pvol')) == []
    record_calls('podman', p.calls())
