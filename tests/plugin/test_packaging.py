# SPDX-License-Identifier: MIT
"""scripts/plugin-install.sh (staged into a temporary root) and
scripts/plugin-build.sh (the managed plugin directory) produce what Docker,
systemd and an operator rely on."""
import json
import os
import re
import subprocess

from plugutil import BUILD, SRC, TAGLOCKFS


def script(name, *args, timeout=300):
    p = subprocess.run([os.path.join(SRC, 'scripts', name)] + list(args),
                       capture_output=True, text=True, timeout=timeout)
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


def version_tuple(text):
    return tuple(int(x) for x in re.findall(r'\d+', text)[:2])


def test_install_default_build(work):
    """With no -b, plugin-install.sh builds what scripts/lib/fastbuild.sh
    chooses (libfuse 3.17 with kernel passthrough where the kernel has it),
    says which build in one line, and the installed taglockfs loads nothing
    from the checkout (ldd, RUNPATH)."""
    dest = os.path.join(work, 'root')
    # a first build compiles libfuse and taglockfs: minutes on this machine
    out = script('plugin-install.sh', '-d', dest, timeout=1200)
    lines = [line for line in out.splitlines() if line.startswith('build: ')]
    assert len(lines) == 1, out
    installed = os.path.join(dest, 'usr/local/bin/taglockfs')
    version = subprocess.run([installed, '--version'], capture_output=True, text=True)
    assert version.returncode == 0, version.stderr
    libfuse = re.search(r'\(libfuse ([0-9.]+)\)', version.stdout).group(1)
    if version_tuple(os.uname().release) >= (6, 9):
        assert version_tuple(libfuse) >= (3, 17), (libfuse, lines[0])
        assert 'kernel passthrough' in lines[0], lines[0]
    else:
        assert 'classic data path' in lines[0], lines[0]
    checkout = os.path.realpath(SRC) + '/'
    ldd = subprocess.run(['ldd', installed], capture_output=True, text=True, check=True).stdout
    for lib in re.findall(r'(/\S+)', ldd):
        assert not os.path.realpath(lib).startswith(checkout), ldd
    dyn = subprocess.run(['readelf', '-d', installed], capture_output=True, text=True,
                         check=True).stdout
    for line in dyn.splitlines():
        if '(RUNPATH)' in line or '(RPATH)' in line:
            assert checkout not in line and '$ORIGIN' not in line, line


def test_install_refuses_checkout_libfuse(work):
    """A taglockfs built against scripts/build-libfuse.sh's shared libfuse
    loads it from the checkout: plugin-install.sh refuses to install it
    and installs nothing."""
    script('build-libfuse.sh', timeout=1200)
    pcdir = os.path.dirname(subprocess.run(
        ['find', os.path.join(SRC, '.libfuse/prefix'), '-name', 'fuse3.pc'],
        capture_output=True, text=True, check=True).stdout.split('\n')[0])
    build = os.path.join(work, 'build-shared')
    env = dict(os.environ, PKG_CONFIG_PATH=pcdir)
    subprocess.run(['meson', 'setup', build, SRC, '-Dpassthrough=enabled'], env=env,
                   capture_output=True, check=True, timeout=300)
    subprocess.run(['meson', 'compile', '-C', build, 'taglockfs', 'taglockfs-plugin'],
                   capture_output=True, check=True, timeout=600)
    dest = os.path.join(work, 'root')
    p = subprocess.run([os.path.join(SRC, 'scripts', 'plugin-install.sh'), '-b', build,
                        '-d', dest], capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stdout + p.stderr
    assert 'loads libraries from this checkout' in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(dest, 'usr/local/bin/taglockfs'))
