# SPDX-License-Identifier: MIT
"""scripts/plugin-install.sh (staged into a temporary root) and
scripts/plugin-build.sh (the managed plugin directory) produce what Docker,
systemd and an operator rely on."""
import json
import os
import subprocess

from plugutil import BUILD, SRC, TAGLOCKFS


def script(name, *args):
    p = subprocess.run([os.path.join(SRC, 'scripts', name)] + list(args),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def unit_fields(path):
    fields = {}
    with open(path) as f:
        for line in f:
            if '=' in line and not line.startswith('#'):
                k, v = line.rstrip('\n').split('=', 1)
                fields.setdefault(k, []).append(v)
    return fields


def test_install_staged(work):
    dest = os.path.join(work, 'root')
    script('plugin-install.sh', '-b', BUILD, '-d', dest)
    bindir = os.path.join(dest, 'usr/local/bin')
    for prog in ('taglockfs', 'taglockfs-plugin'):
        out = subprocess.run([os.path.join(bindir, prog), '--version'], capture_output=True,
                             text=True)
        assert out.returncode == 0 and out.stdout.startswith(prog + ' '), out
    unit = unit_fields(os.path.join(dest, 'etc/systemd/system/taglockfs-plugin.service'))
    assert unit['Before'] == ['docker.service']
    assert unit['KillMode'] == ['process'], 'a plugin restart must not kill the mounts'
    assert unit['ExecStart'][0].split()[0] == '/usr/local/bin/taglockfs-plugin'
    assert 'docker.service' in unit['WantedBy'][0].split()
    policy = os.path.join(dest, 'etc/taglockfs/policy.yaml')
    check = subprocess.run([TAGLOCKFS, '--check-policy', policy], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # A second run keeps the operator's policy.
    with open(policy, 'a') as f:
        f.write('# edited\n')
    script('plugin-install.sh', '-b', BUILD, '-d', dest)
    with open(policy) as f:
        assert f.read().endswith('# edited\n')


def test_managed_plugin_dir(work):
    out = os.path.join(work, 'managed')
    script('plugin-build.sh', '-b', BUILD, '-o', out)
    with open(os.path.join(out, 'config.json')) as f:
        cfg = json.load(f)
    assert cfg['interface'] == {'types': ['docker.volumedriver/1.0'], 'socket': 'taglockfs.sock'}
    assert cfg['linux']['capabilities'] == ['CAP_SYS_ADMIN']
    assert {'path': '/dev/fuse'} in cfg['linux']['devices']
    prop = cfg['propagatedMount']
    assert '--state-dir' in cfg['entrypoint']
    assert cfg['entrypoint'][cfg['entrypoint'].index('--state-dir') + 1] == prop, \
        'volumes are mounted under propagatedMount'
    rootfs = os.path.join(out, 'rootfs')
    # The rootfs is self-contained: each binary runs chrooted into it.
    for argv in (['/usr/bin/taglockfs', '--version'], ['/usr/bin/taglockfs-plugin', '--version'],
                 ['/usr/bin/fusermount3', '-V']):
        assert os.path.exists(rootfs + argv[0]), argv[0]
        p = subprocess.run(['chroot', rootfs] + argv, capture_output=True, text=True)
        assert p.returncode == 0, (argv, p.stdout, p.stderr)
    assert cfg['entrypoint'][0] == '/usr/bin/taglockfs-plugin'
