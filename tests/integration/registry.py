# SPDX-License-Identifier: MIT
"""A real registry for the end-to-end tests: Debian's `docker-registry`
(CNCF distribution 2.8) on a loopback port over a given root directory,
pushes and pulls with skopeo, and manifest lookups over plain HTTP.

Everything here is Python 3 standard library plus the `docker-registry`,
`skopeo`, `bash`, `tar` and `gzip` commands. Images are generated locally
by scripts/lib/mkoci.sh (no network).
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE_ROOT = Path(os.environ.get('TLK_SOURCE_ROOT') or HERE.parent.parent)
MKOCI = SOURCE_ROOT / 'scripts' / 'lib' / 'mkoci.sh'

REGISTRY_BIN = shutil.which('docker-registry') or '/usr/bin/docker-registry'
SKOPEO_BIN = shutil.which('skopeo') or '/usr/bin/skopeo'

OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json'
DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json'
ACCEPT = ', '.join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])


# ------------------------------------------------------------- images

def _mkoci(func, oci_dir, seed, layers=1, layer_kb=16):
    r = subprocess.run(
        ['bash', '-c', 'set -e; source "$1"; shift; "$@"', 'mkoci',
         str(MKOCI), func, str(oci_dir), str(seed), str(layers),
         str(layer_kb)],
        capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError('%s %s %s failed (%d): %s'
                           % (func, oci_dir, seed, r.returncode, r.stderr))
    dgst = r.stdout.strip().splitlines()[-1]
    assert dgst.startswith('sha256:') and len(dgst) == 71, r.stdout
    return dgst


def mkoci(oci_dir, seed, layers=1, layer_kb=16):
    """Write a single-platform OCI image layout; return its manifest
    digest. Same seed -> same bytes."""
    return _mkoci('mkoci', oci_dir, seed, layers, layer_kb)


def mkoci_index(oci_dir, seed, layers=1, layer_kb=16):
    """Write an OCI layout whose top-level manifest is an image index of
    linux/amd64 and linux/arm64; return the index digest."""
    return _mkoci('mkoci_index', oci_dir, seed, layers, layer_kb)


def oci_top_digest(oci_dir):
    """The digest index.json of an OCI layout points to."""
    with open(Path(oci_dir) / 'index.json') as f:
        idx = json.load(f)
    return idx['manifests'][0]['digest']


def oci_blob(oci_dir, dgst):
    return (Path(oci_dir) / 'blobs' / 'sha256'
            / dgst.split(':', 1)[1]).read_bytes()


def oci_digests(oci_dir):
    """Every digest reachable from the top-level manifest of an OCI
    layout (manifests, index, configs, layers), as a set, each checked
    against the blob's own sha256."""
    import hashlib
    out = set()

    def walk(dgst):
        data = oci_blob(oci_dir, dgst)
        assert 'sha256:' + hashlib.sha256(data).hexdigest() == dgst, \
            '%s: blob %s does not match its digest' % (oci_dir, dgst)
        out.add(dgst)
        try:
            doc = json.loads(data)
        except ValueError:
            return
        if not isinstance(doc, dict):
            return
        for d in doc.get('manifests', []):
            walk(d['digest'])
        if 'config' in doc and isinstance(doc['config'], dict) \
                and 'digest' in doc['config']:
            walk(doc['config']['digest'])
        for d in doc.get('layers', []):
            walk(d['digest'])
    walk(oci_top_digest(oci_dir))
    return out


# ----------------------------------------------------------- registry

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


CONFIG = """\
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
"""


class Registry:
    """`docker-registry serve CONFIG` over `rootdir`. Use as a context
    manager or call start()/stop(). The registry's log (stdout and
    stderr) goes to `<workdir>/registry.log`."""

    def __init__(self, rootdir, workdir=None):
        self.rootdir = Path(rootdir)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix='tlk-reg-'))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config = self.workdir / 'registry.yml'
        self.logfile = self.workdir / 'registry.log'
        self.proc = None
        self.port = None

    @property
    def host(self):
        return '127.0.0.1:%d' % self.port

    @property
    def url(self):
        return 'http://%s' % self.host

    def start(self, timeout=30):
        last = ''
        for _attempt in range(5):
            self.port = free_port()
            self.config.write_text(CONFIG.format(root=self.rootdir,
                                                 port=self.port))
            with open(self.logfile, 'ab') as log:
                self.proc = subprocess.Popen(
                    [REGISTRY_BIN, 'serve', str(self.config)],
                    stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, cwd=str(self.workdir))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    with urllib.request.urlopen(self.url + '/v2/',
                                                timeout=2) as r:
                        if r.status == 200:
                            return self
                except (urllib.error.URLError, OSError):
                    pass
                time.sleep(0.05)
            last = self.log_text()[-3000:]
            self._kill()
            if 'address already in use' not in last:
                break
        raise RuntimeError('docker-registry did not answer /v2/ on %s; log:\n%s'
                           % (self.host, last))

    def _kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def stop(self):
        """Stop the registry (SIGTERM, then SIGKILL); keep the log."""
        self._kill()

    def cleanup(self):
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_mark(self):
        """Current log length, for log_text()[mark:]."""
        return len(self.log_text())

    def log_text(self):
        try:
            return self.logfile.read_text(errors='replace')
        except FileNotFoundError:
            return ''

    # -- skopeo
    def _ref(self, ref, host=None):
        return 'docker://%s/%s' % (host or self.host, ref)

    def push(self, oci_dir, ref, timeout=120, extra=(), host=None):
        """skopeo copy --all oci:DIR docker://HOST/REPO:TAG (all platforms
        of an index), as a user types it: no --preserve-digests, so a
        refused index push shows skopeo's fallback attempts (OCI index,
        then Docker manifest list) rather than a conversion error; callers
        check the resulting digests. `host`: push through another
        address (a proxy in front). Returns (returncode, stderr)."""
        cmd = [SKOPEO_BIN, '--insecure-policy', 'copy', '--all',
               '--dest-tls-verify=false',
               *extra, 'oci:%s' % oci_dir, self._ref(ref, host)]
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        return r.returncode, r.stderr

    def pull(self, ref, dest_dir, fmt='oci', timeout=120):
        """skopeo copy docker://HOST/REF to oci:DEST (or dir:DEST).
        Returns (returncode, stderr)."""
        if fmt not in ('oci', 'dir'):
            raise ValueError(fmt)
        cmd = [SKOPEO_BIN, '--insecure-policy', 'copy', '--all',
               '--preserve-digests', '--src-tls-verify=false',
               self._ref(ref), '%s:%s' % (fmt, dest_dir)]
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        return r.returncode, r.stderr

    # -- HTTP
    def request(self, method, path, headers=None, data=None, timeout=30):
        """One HTTP request; returns (status, headers, body) also for
        error statuses."""
        req = urllib.request.Request(self.url + path, method=method,
                                     headers=headers or {}, data=data)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def manifest(self, repo, reference, method='GET'):
        """(status, headers, body) of /v2/<repo>/manifests/<reference>."""
        return self.request(method, '/v2/%s/manifests/%s' % (repo, reference),
                            headers={'Accept': ACCEPT})

    def manifest_digest(self, repo, tag):
        """Docker-Content-Digest of HEAD /v2/<repo>/manifests/<tag>, or
        None when the tag does not resolve (404)."""
        status, headers, _ = self.manifest(repo, tag, method='HEAD')
        if status == 404:
            return None
        if status != 200:
            raise RuntimeError('HEAD %s:%s -> HTTP %d' % (repo, tag, status))
        return headers.get('Docker-Content-Digest')

    def delete_manifest(self, repo, dgst):
        """DELETE /v2/<repo>/manifests/<digest>; (status, body text)."""
        status, _, body = self.request('DELETE', '/v2/%s/manifests/%s'
                                       % (repo, dgst))
        return status, body.decode(errors='replace')

    def tags(self, repo):
        status, _, body = self.request('GET', '/v2/%s/tags/list' % repo)
        if status != 200:
            return None
        return json.loads(body).get('tags') or []


def current_link(root, repo, tag):
    """Content of <root>/docker/registry/v2/repositories/<repo>/_manifests/
    tags/<tag>/current/link (str), or None when missing."""
    p = (Path(root) / 'docker' / 'registry' / 'v2' / 'repositories' / repo
         / '_manifests' / 'tags' / tag / 'current' / 'link')
    try:
        return p.read_text()
    except FileNotFoundError:
        return None
