# SPDX-License-Identifier: MIT
"""Helpers for the taglockfs-plugin tests: a client for the plugin protocol
over a unix socket, a manager for plugin processes, mount inspection and
cleanup, OCI images and registry pushes.

Environment (set by tests/plugin/meson.build):
  TAGLOCKFS         the built daemon
  TLK_PLUGIN        the built taglockfs-plugin
  TLK_SOURCE_ROOT   the source tree (scripts/, scripts/lib/mkoci.sh)
  TLK_BUILD_ROOT    the build tree
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import time

SRC = os.environ.get('TLK_SOURCE_ROOT',
                     os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))
BUILD = os.environ.get('TLK_BUILD_ROOT', os.path.join(SRC, 'build'))
TAGLOCKFS = os.environ.get('TAGLOCKFS', os.path.join(BUILD, 'taglockfs'))
PLUGIN = os.environ.get('TLK_PLUGIN', os.path.join(BUILD, 'src', 'plugin', 'taglockfs-plugin'))
PLUGIN_DIR = '/run/docker/plugins'

POLICY = """version: 1
defaults:
  immutable_tags: ["*"]
  mutable_tags: ["latest"]
repositories:
  - name: "test/**"
    immutable: true
"""


def read_text(path):
    with open(path) as f:
        return f.read()


def hexdigest(ch):
    return 'sha256:' + ch * 64


# ---------------------------------------------------------------- protocol

class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__('localhost', timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


def call(sock, method, body=None, *, http_method='POST', raw_body=None,
         timeout=150):
    """POST /<method> with a JSON body; returns (status, decoded JSON or
    text, headers). `raw_body` (bytes) is sent as is."""
    conn = _UnixConnection(sock, timeout)
    try:
        data = raw_body if raw_body is not None else (
            None if body is None else json.dumps(body).encode())
        headers = {'Accept': 'application/vnd.docker.plugins.v1.2+json'}
        if data is not None:
            headers['Content-Type'] = 'application/json'
        conn.request(http_method, '/' + method, body=data, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode()
        try:
            doc = json.loads(text)
        except ValueError:
            doc = text
        return resp.status, doc, dict(resp.getheaders())
    finally:
        conn.close()


def ok(sock, method, body=None):
    """call() that must answer 200; returns the JSON."""
    status, doc, _ = call(sock, method, body)
    assert status == 200, '%s %s -> %s %s' % (method, body, status, doc)
    return doc


def err(sock, method, body=None, **kw):
    """call() that must fail as the protocol says (500 + {"Err": text});
    returns the text."""
    status, doc, _ = call(sock, method, body, **kw)
    assert status == 500, '%s %s -> %s %s (wanted 500)' % (method, body, status, doc)
    assert isinstance(doc, dict) and isinstance(doc.get('Err'), str) and doc['Err'], doc
    return doc['Err']


def raw(sock, data, timeout=10, send_after=None):
    """Send raw bytes, read until the server closes; returns (status, text).
    `send_after` = (marker, bytes): send bytes once `marker` was read."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock)
    got = b''
    try:
        s.sendall(data)
        while True:
            if send_after and send_after[0] in got:
                s.sendall(send_after[1])
                send_after = None
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    text = got.decode(errors='replace')
    # The final response (a "100 Continue" may precede it).
    last = text[text.rfind('HTTP/1.1 '):] if 'HTTP/1.1 ' in text else text
    try:
        status = int(last.split(' ', 2)[1])
    except (IndexError, ValueError):
        status = None
    return status, text


# ---------------------------------------------------------------- processes

class Plugin:
    """One taglockfs-plugin process, its socket, state dir and log."""
    count = 0

    def __init__(self, workdir, sock=None, state=None, args=(), taglockfs=TAGLOCKFS):
        self.workdir = workdir
        self.sock = sock or os.path.join(workdir, 'plugin.sock')
        self.state = state or os.path.join(workdir, 'state')
        self.args = list(args)
        self.taglockfs = taglockfs
        Plugin.count += 1
        self.log_path = os.path.join(workdir, 'plugin-%d.log' % Plugin.count)
        self.proc = None

    def cmd(self):
        return [PLUGIN, '--socket', self.sock, '--state-dir', self.state,
                '--taglockfs', self.taglockfs, '--watch-interval', '500'] + self.args

    def start(self, wait=True):
        log = open(self.log_path, 'a')
        self.proc = subprocess.Popen(self.cmd(), stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise AssertionError('plugin exited %s:\n%s' % (self.proc.returncode, self.log()))
            try:
                if call(self.sock, 'Plugin.Activate', timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError('plugin did not answer on %s:\n%s' % (self.sock, self.log()))

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ''

    def calls(self):
        """The protocol calls the plugin logged, in order."""
        return [line.split('call ', 1)[1] for line in self.log().splitlines()
                if ': call ' in line]

    def vol_dir(self, name):
        return os.path.join(self.state, 'volumes', name)

    def mnt(self, name):
        return os.path.join(self.vol_dir(name), 'mnt')

    def data(self, name):
        return os.path.join(self.vol_dir(name), 'data')

    def state_doc(self):
        with open(os.path.join(self.state, 'state.json')) as f:
            return json.load(f)


# ---------------------------------------------------------------- mounts

def _unescape(field):
    out, i = '', 0
    while i < len(field):
        if field[i] == '\\' and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out += chr(int(field[i + 1:i + 4], 8))
            i += 4
        else:
            out += field[i]
            i += 1
    return out


def mounts():
    """[(mountpoint, fstype)] of this mount namespace."""
    res = []
    with open('/proc/self/mountinfo') as f:
        for line in f:
            left, right = line.split(' - ', 1)
            res.append((_unescape(left.split()[4]), right.split()[0]))
    return res


def taglockfs_mounts(path):
    return [m for m, t in mounts() if m == path and t == 'fuse.taglockfs']


def mounts_under(prefix):
    prefix = prefix.rstrip('/') + '/'
    return [m for m, _ in mounts() if m.startswith(prefix)]


def unmount_under(prefix):
    """Lazily unmount everything below prefix, deepest first."""
    left = []
    for m in sorted(set(mounts_under(prefix)), key=len, reverse=True):
        if subprocess.run(['umount', '-l', m], capture_output=True).returncode:
            left.append(m)
    return left


def mount_state(path):
    """'live', 'dead' (ENOTCONN) or 'none'. statvfs always reaches the
    daemon, where stat may be answered from the kernel's attribute cache."""
    try:
        st = os.lstat(path)
        parent = os.stat(os.path.dirname(path))
        if st.st_dev != parent.st_dev:
            os.statvfs(path)
    except OSError as e:
        return 'dead' if e.errno in (107, 103) else 'none'
    return 'live' if st.st_dev != parent.st_dev else 'none'


def daemon_pids(mnt):
    """Pids of taglockfs processes whose last argument is `mnt`."""
    pids = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                argv = f.read().split(b'\0')[:-1]
        except OSError:
            continue
        if len(argv) > 1 and os.path.basename(argv[0]) == b'taglockfs' \
                and argv[-1].decode(errors='replace') == mnt:
            pids.append(int(pid))
    return pids


def wait_for(pred, timeout, what, interval=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError('timed out after %ss waiting for %s' % (timeout, what))


# ---------------------------------------------------------------- registry

def tag_link(root, repo, tag):
    return os.path.join(root, 'docker/registry/v2/repositories', repo,
                        '_manifests/tags', tag, 'current/link')


def write_tag(root, repo, tag, dgst):
    """Write a tag link the way distribution 2.8 does (open, ftruncate,
    write, fsync, close); returns the first errno (0 on success)."""
    path = tag_link(root, repo, tag)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    except OSError as e:
        return e.errno
    first = 0
    for step in (lambda: os.ftruncate(fd, 0), lambda: os.write(fd, dgst.encode()),
                 lambda: os.fsync(fd), lambda: os.close(fd)):
        try:
            step()
        except OSError as e:
            first = first or e.errno
    return first


def mkoci(oci_dir, seed):
    """An OCI layout made by scripts/lib/mkoci.sh; returns its digest."""
    lib = os.path.join(SRC, 'scripts', 'lib', 'mkoci.sh')
    assert os.path.exists(lib), 'scripts/lib/mkoci.sh is missing'
    out = subprocess.run(['bash', lib, 'mkoci', oci_dir, seed],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def skopeo_push(oci_dir, host, ref, timeout=120):
    """Push; returns (returncode, stderr)."""
    p = subprocess.run(['skopeo', 'copy', '--quiet', '--dest-tls-verify=false',
                        'oci:' + oci_dir, 'docker://%s/%s' % (host, ref)],
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stderr


def manifest_digest(host, repo, tag, timeout=10):
    """The digest the registry serves for repo:tag, or None (404)."""
    conn = http.client.HTTPConnection(host, timeout=timeout)
    try:
        conn.request('HEAD', '/v2/%s/manifests/%s' % (repo, tag), headers={
            'Accept': 'application/vnd.oci.image.manifest.v1+json'})
        r = conn.getresponse()
        r.read()
        return r.getheader('Docker-Content-Digest') if r.status == 200 else None
    finally:
        conn.close()


def registry_up(host):
    try:
        conn = http.client.HTTPConnection(host, timeout=2)
        conn.request('GET', '/v2/')
        return conn.getresponse().status == 200
    except OSError:
        return False


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def record_calls(name, lines):
    """Keep the observed call sequence next to meson's logs."""
    d = os.path.join(BUILD, 'meson-logs')
    try:
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, 'plugin-calls-%s.log' % name), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    except OSError:
        pass
