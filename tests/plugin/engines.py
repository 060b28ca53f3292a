# SPDX-License-Identifier: MIT
"""Real container engines for the plugin tests: a private dockerd (Debian's
docker.io, its own data root, exec root and socket) and Podman with runc and
private storage, plus the two images the tests need, made offline:
a registry image (Debian's docker-registry binary and the libraries ldd
lists) and a busybox image (Debian's busybox-static)."""
import io
import os
import shutil
import signal
import subprocess
import tarfile
import time

import plugutil

REGISTRY_CONFIG = """version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
"""


def need(prog):
    path = shutil.which(prog)
    assert path, '%s is not installed (scripts/deps.sh test installs it)' % prog
    return path


def docker_cli():
    """Debian's client, matching Debian's dockerd (another docker in PATH may
    be a newer release)."""
    return '/usr/bin/docker' if os.path.exists('/usr/bin/docker') else need('docker')


def _libs(binary):
    out = subprocess.run(['ldd', binary], capture_output=True, text=True)
    return [w for line in out.stdout.splitlines() for w in line.split()
            if w.startswith('/')]


def make_rootfs_tar(tar_path, files, dirs=(), extra=None):
    """A tarball holding `files` (host paths, copied with their ldd
    libraries at the same paths), empty `dirs` and `extra` {path: text}."""
    with tarfile.open(tar_path, 'w') as tar:
        seen = set()

        def add(path):
            if path in seen:
                return
            seen.add(path)
            tar.add(os.path.realpath(path), arcname=path.lstrip('/'))
        for d in dirs:
            info = tarfile.TarInfo(d.lstrip('/'))
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == '/tmp' else 0o755
            tar.addfile(info)
        for f in files:
            add(f)
            for lib in _libs(f):
                add(lib)
        for path, text in (extra or {}).items():
            data = text.encode()
            info = tarfile.TarInfo(path.lstrip('/'))
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))


def registry_tar(workdir):
    path = os.path.join(workdir, 'registry-rootfs.tar')
    make_rootfs_tar(path, [need('docker-registry')], dirs=['/tmp', '/var/lib/registry'],
                    extra={'/etc/docker/registry/config.yml': REGISTRY_CONFIG})
    return path


REGISTRY_ENTRYPOINT = '["/usr/bin/docker-registry","serve","/etc/docker/registry/config.yml"]'


def busybox_tar(workdir):
    busybox = '/bin/busybox'
    assert os.path.exists(busybox), 'busybox-static is not installed'
    path = os.path.join(workdir, 'busybox-rootfs.tar')
    make_rootfs_tar(path, [busybox], dirs=['/tmp', '/data'])
    with tarfile.open(path, 'a') as tar:
        for applet in ('sh', 'cat', 'cp', 'printf', 'mkdir', 'rm', 'mv', 'ls', 'echo', 'ln', 'sleep'):
            info = tarfile.TarInfo('bin/' + applet)
            info.type = tarfile.SYMTYPE
            info.linkname = 'busybox'
            tar.addfile(info)
    return path


class Dockerd:
    """A private dockerd; stop() also removes every container and mount it
    left, even after a failed test."""

    def __init__(self, root):
        self.root = root
        self.sock = os.path.join(root, 'docker.sock')
        self.log_path = os.path.join(root, 'dockerd.log')
        self.proc = None
        self.env = dict(os.environ, DOCKER_HOST='unix://' + self.sock,
                        DOCKER_CONFIG=os.path.join(root, 'cli'))

    def start(self, timeout=60):
        log = open(self.log_path, 'a')
        self.proc = subprocess.Popen(
            [need('dockerd'), '--iptables=false', '--ip6tables=false', '--bridge=none',
             '--data-root', os.path.join(self.root, 'data'), '-H', 'unix://' + self.sock,
             '--exec-root', os.path.join(self.root, 'exec'),
             '--pidfile', os.path.join(self.root, 'docker.pid')],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise AssertionError('dockerd exited %s:\n%s' % (self.proc.returncode,
                                                                 self.log()[-4000:]))
            if self.docker('version', check=False, timeout=10).returncode == 0:
                return self
            time.sleep(0.3)
        raise AssertionError('dockerd did not answer:\n' + self.log()[-4000:])

    def docker(self, *args, check=True, timeout=180):
        p = subprocess.run([docker_cli()] + list(args), env=self.env, capture_output=True,
                           text=True, timeout=timeout)
        if check:
            assert p.returncode == 0, 'docker %s -> %d\n%s%s' % (
                ' '.join(args), p.returncode, p.stdout, p.stderr)
        return p

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ''

    def stop(self, timeout=40):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        """Remove containers and plugins, stop dockerd, detach mounts."""
        if self.proc is not None and self.proc.poll() is None:
            ids = self.docker('ps', '-aq', check=False, timeout=30).stdout.split()
            if ids:
                self.docker('rm', '-f', *ids, check=False, timeout=60)
            for name in self.docker('plugin', 'ls', '-q', check=False,
                                    timeout=30).stdout.split():
                self.docker('plugin', 'disable', '-f', name, check=False, timeout=60)
                self.docker('plugin', 'rm', '-f', name, check=False, timeout=60)
        self.stop()
        left = plugutil.unmount_under(self.root)
        if not left and not plugutil.mounts_under(self.root):
            shutil.rmtree(self.root, ignore_errors=True)
        return left


class Podman:
    """podman with runc, private storage and a containers.conf naming the
    plugin socket."""

    def __init__(self, root, plugins):
        self.root = root
        self.conf = os.path.join(root, 'containers.conf')
        with open(self.conf, 'w') as f:
            f.write('[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\n'
                    '[engine.volume_plugins]\n')
            for name, sock in plugins.items():
                f.write('%s = "%s"\n' % (name, sock))
        self.env = dict(os.environ, CONTAINERS_CONF=self.conf)

    def base(self):
        r = self.root
        return [need('podman'), '--root', os.path.join(r, 'root'),
                '--runroot', os.path.join(r, 'run'), '--tmpdir', os.path.join(r, 'tmp'),
                '--storage-driver', 'vfs', '--runtime', need('runc')]

    def podman(self, *args, check=True, timeout=180):
        p = subprocess.run(self.base() + list(args), env=self.env, capture_output=True,
                           text=True, timeout=timeout)
        if check:
            assert p.returncode == 0, 'podman %s -> %d\n%s%s' % (
                ' '.join(args), p.returncode, p.stdout, p.stderr)
        return p

    def cleanup(self):
        self.podman('rm', '-af', check=False, timeout=60)
        self.podman('volume', 'rm', '-af', check=False, timeout=60)
        left = plugutil.unmount_under(self.root)
        if not left and not plugutil.mounts_under(self.root):
            shutil.rmtree(self.root, ignore_errors=True)
        return left
