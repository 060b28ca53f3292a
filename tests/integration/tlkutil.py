# SPDX-License-Identifier: MIT
"""Shared helpers for the taglockfs integration tests.

Registry layout paths, the exact write sequences of distribution 2.8 and
3.1+, and the Mount/TlkFactory classes behind the `tlk` fixture
(conftest.py). Everything here is plain Python 3 standard library.
"""
import ctypes
import errno
import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

V2 = Path('docker/registry/v2')

# The policy most tests use: test/example immutable (latest mutable by
# default), team-a/scratch explicitly mutable, team-a/** immutable with a
# wider mutable_tags list.
DEFAULT_POLICY = """\
version: 1
repositories:
  - name: test/example
    immutable: true
  - name: team-a/scratch
    immutable: false
  - name: "team-a/**"
    immutable: true
    mutable_tags: ["latest", "nightly", "sha256-*.sig"]
"""

OPEN_POLICY = """\
version: 1
repositories:
  - name: test/example
    immutable: false
"""

OVERWRITE_SENTENCE = ("The requested tag already exists and cannot be "
                      "overwritten.")


# ---------------------------------------------------------------- digests

def digest(n):
    """A deterministic fake digest: 'sha256:' + 64 hex."""
    return 'sha256:' + hashlib.sha256(('tlk-test-%s' % (n,)).encode()
                                      ).hexdigest()


def hexpart(dgst):
    if isinstance(dgst, bytes):
        dgst = dgst.decode()
    assert dgst.startswith('sha256:'), dgst
    return dgst[len('sha256:'):]


def _b(content):
    return content.encode() if isinstance(content, str) else bytes(content)


# ------------------------------------------------------------------ paths

def repo_dir(root, repo):
    return Path(root) / 'repositories' / repo


def tag_dir(root, repo, tag):
    return repo_dir(root, repo) / '_manifests' / 'tags' / tag


def tag_link(root, repo, tag):
    return tag_dir(root, repo, tag) / 'current' / 'link'


def index_link(root, repo, tag, dgst):
    return tag_dir(root, repo, tag) / 'index' / 'sha256' / hexpart(dgst) / 'link'


def rev_link(root, repo, dgst):
    return (repo_dir(root, repo) / '_manifests' / 'revisions' / 'sha256'
            / hexpart(dgst) / 'link')


def read(path):
    with open(path, 'rb') as f:
        return f.read()


# -------------------------------------------------------- write sequences

def _fail(step, exc):
    exc.step = step
    return exc


def _write_steps(fd, data):
    """ftruncate(0), one write at offset 0, fsync twice (2.8's order)."""
    try:
        os.ftruncate(fd, 0)
    except OSError as e:
        raise _fail('ftruncate', e)
    try:
        n = os.write(fd, data)
    except OSError as e:
        raise _fail('write', e)
    if n != len(data):
        raise _fail('write', OSError(errno.EIO, 'short write %d of %d'
                                     % (n, len(data))))
    for step in ('fsync', 'fsync2'):
        try:
            os.fsync(fd)
        except OSError as e:
            raise _fail(step, e)


def _open_for_write(path):
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise _fail('open', e)


def _makedirs(parent):
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise _fail('mkdir', e)


def write_link_28(path, content):
    """Exactly distribution 2.8's PutContent. Raises OSError with .step
    naming the failing step: mkdir, open, ftruncate, write, fsync, fsync2,
    close. (2.8 ignores close errors; we report them so tests can tell.)"""
    data = _b(content)
    path = Path(path)
    _makedirs(path.parent)
    fd = _open_for_write(path)
    try:
        _write_steps(fd, data)
    except OSError:
        try:
            os.close(fd)
        except OSError:
            pass
        raise
    try:
        os.close(fd)
    except OSError as e:
        raise _fail('close', e)


def write_link_31(path, content):
    """distribution 3.1+: the 2.8 steps on link.<uuid>.tmp, rename onto
    link while the temp file is still open, close, fsync of the directory.
    Raises OSError with .step (as write_link_28, plus rename, dirsync)."""
    data = _b(content)
    path = Path(path)
    _makedirs(path.parent)
    tmp = path.parent / ('%s.%s.tmp' % (path.name, uuid.uuid4()))
    fd = _open_for_write(tmp)
    try:
        _write_steps(fd, data)
        try:
            os.rename(tmp, path)
        except OSError as e:
            raise _fail('rename', e)
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError as e:
        raise _fail('dirsync', e)


WRITERS = {'28': write_link_28, '31': write_link_31}


def write_link(path, content, seq='28'):
    return WRITERS[str(seq)](path, content)


def push_tag(root, repo, tag, dgst, seq='28'):
    """What a manifest PUT with a tag writes, in distribution's order:
    revision link, the tag's index link, then current/link."""
    w = WRITERS[str(seq)]
    w(rev_link(root, repo, dgst), dgst)
    w(index_link(root, repo, tag, dgst), dgst)
    w(tag_link(root, repo, tag), dgst)


def close_quietly(fd):
    """Close a descriptor whose close may report a refused change (a
    guarded handle answers EPERM/EINVAL at close too)."""
    try:
        os.close(fd)
    except OSError:
        pass


def expect_errno(err, fn, *args, **kwargs):
    """Call fn, assert it raises OSError with errno err; return the error."""
    try:
        fn(*args, **kwargs)
    except OSError as e:
        assert e.errno == err, ('%s: expected %s, got %s (%s)'
                                % (getattr(fn, '__name__', fn),
                                   errno.errorcode[err],
                                   errno.errorcode.get(e.errno, e.errno), e))
        return e
    raise AssertionError('%s%r succeeded, expected %s'
                         % (getattr(fn, '__name__', fn), args,
                            errno.errorcode[err]))


# -------------------------------------------------------------- renameat2

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(None, use_errno=True)


def renameat2(src, dst, flags):
    """renameat2(2) with AT_FDCWD on both sides; raises OSError."""
    at_fdcwd = -100
    r = _libc.renameat2(at_fdcwd, os.fsencode(str(src)), at_fdcwd,
                        os.fsencode(str(dst)), ctypes.c_uint(flags))
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), str(src))


# ----------------------------------------------------------------- mounts

def mounted_fuse(path):
    """True when `path` is a FUSE mount point in /proc/self/mountinfo."""
    want = os.path.abspath(str(path))
    with open('/proc/self/mountinfo') as f:
        for line in f:
            left, _, right = line.partition(' - ')
            fields = left.split()
            mp = re.sub(r'\\([0-7]{3})', lambda m: chr(int(m.group(1), 8)),
                        fields[4])
            if mp == want and right.split()[0].startswith('fuse'):
                return True
    return False


def binary():
    path = os.environ.get('TAGLOCKFS')
    if not path:
        build = os.environ.get('TLK_BUILD_ROOT')
        if build:
            path = os.path.join(build, 'taglockfs')
    return path


class MountError(AssertionError):
    pass


class Mount:
    """One running taglockfs daemon (see TlkFactory.mount)."""

    def __init__(self, factory, name, backing, mnt, policy, audit, log,
                 proc, inplace, cmd, backing_fd=None):
        self.factory = factory
        self.name = name
        self.backing = Path(backing)
        self.mnt = Path(mnt)
        self.root = self.mnt / V2
        self.broot = self.backing / V2
        self.policy = Path(policy)
        self.audit = Path(audit)
        self.log = Path(log)
        self.proc = proc
        self.inplace = inplace
        self.cmd = cmd
        self.backing_fd = backing_fd
        self.unmounted = False
        self.exit_status = None
        self._policy_gen = 0

    # -- logs
    def log_text(self):
        try:
            return self.log.read_text(errors='replace')
        except FileNotFoundError:
            return ''

    def wait_log(self, regex, timeout=5, start=0):
        """Wait until the log (from byte `start`) matches regex; return
        the match. Raises AssertionError with the log on timeout."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text()[start:]
            m = rx.search(text)
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError('no log line matching %r within %ss; '
                                     'daemon log:\n%s' % (regex, timeout,
                                                          text[-4000:]))
            time.sleep(0.02)

    def wait_line(self, *parts, timeout=5, start=0):
        """Wait for one log line (from byte `start`) containing every one of
        `parts`; return it. Raises AssertionError with the log on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text()[start:]
            for line in text.splitlines():
                if all(p in line for p in parts):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError('no log line containing all of %r within '
                                     '%ss; daemon log:\n%s'
                                     % (parts, timeout, text[-4000:]))
            time.sleep(0.02)

    def log_mark(self):
        """Current log length, for wait_log(start=...)."""
        return len(self.log_text())

    def alive(self):
        return self.proc.poll() is None

    # -- policy
    def set_policy(self, text, how='inplace'):
        """Replace the policy text the way an operator would:
        'inplace' (truncate + write the same inode), 'rename' (write a new
        file beside it, rename over) or 'symlink-swap' (Kubernetes
        ConfigMap: a new ..<ts> dir, ..data symlink renamed over)."""
        data = _b(text)
        p = self.policy
        if how == 'inplace':
            with open(p, 'r+b') as f:
                f.truncate(0)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        elif how == 'rename':
            tmp = p.parent / ('.%s.tmp%d' % (p.name, os.getpid()))
            tmp.write_bytes(data)
            os.rename(tmp, p)
        elif how in ('symlink-swap', 'configmap'):
            d = p.parent
            if not (d / '..data').is_symlink():
                raise ValueError('policy was not mounted with '
                                 "policy_style='configmap'")
            self._policy_gen += 1
            ts = '..%s_%d' % (time.strftime('%Y_%m_%d_%H_%M_%S'),
                              self._policy_gen)
            (d / ts).mkdir()
            (d / ts / p.name).write_bytes(data)
            old = os.readlink(d / '..data')
            os.symlink(ts, d / '..data_tmp')
            os.rename(d / '..data_tmp', d / '..data')
            shutil.rmtree(d / old, ignore_errors=True)
        else:
            raise ValueError(how)

    # -- teardown
    def unmount(self, check=True):
        """fusermount3 -u, wait for the daemon; kill -9 and umount -l as a
        fallback. With check, raise if the daemon had died before or did
        not exit cleanly."""
        if self.unmounted:
            return
        self.unmounted = True
        died_early = self.proc.poll() is not None
        problems = []
        if died_early:
            problems.append('daemon had exited (status %s) before unmount'
                            % self.proc.returncode)
        ok = False
        for _ in range(20):
            if not mounted_fuse(self.mnt):
                ok = True
                break
            r = subprocess.run(['fusermount3', '-u', str(self.mnt)],
                               capture_output=True)
            if r.returncode == 0:
                ok = True
                break
            time.sleep(0.1)
        if not ok:
            problems.append('fusermount3 -u failed: %s'
                            % r.stderr.decode(errors='replace').strip())
            subprocess.run(['fusermount3', '-u', '-z', str(self.mnt)],
                           capture_output=True)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            problems.append('daemon did not exit within 10 s of unmount')
            self.proc.kill()
            self.proc.wait(timeout=10)
        if mounted_fuse(self.mnt):
            subprocess.run(['umount', '-l', str(self.mnt)],
                           capture_output=True)
        self.exit_status = self.proc.returncode
        if not died_early and self.exit_status not in (0, -9) and ok:
            problems.append('daemon exit status %s after unmount'
                            % self.exit_status)
        if self.backing_fd is not None:
            os.close(self.backing_fd)
            self.backing_fd = None
        # A daemon built with -Db_sanitize reports memory errors and leaks
        # on stderr: any report fails the test that ran it.
        for marker in ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer',
                       'runtime error:'):
            if marker in self.log_text():
                problems.append('sanitizer report in the daemon log (%s)'
                                % marker)
        if check and problems:
            raise MountError('%s: %s; daemon log:\n%s'
                             % (self.name, '; '.join(problems),
                                self.log_text()[-4000:]))


class TlkFactory:
    """The `tlk` fixture. All paths live below one 0755 temp dir so that
    unprivileged users can reach them; close() unmounts everything."""

    def __init__(self):
        self.bin = binary()
        self.base = Path(tempfile.mkdtemp(prefix='tlk-'))
        os.chmod(self.base, 0o755)
        self.mounts = []
        self.procs = []
        self._n = 0

    def _next(self, what):
        self._n += 1
        return self.base / ('%s%d' % (what, self._n))

    def write_policy(self, text, style='file'):
        """A new policy dir; returns the policy.yaml path. style
        'configmap' makes policy.yaml -> ..data/policy.yaml, ..data -> ..v1."""
        d = self._next('policy')
        d.mkdir()
        p = d / 'policy.yaml'
        if style == 'configmap':
            (d / '..v1').mkdir()
            (d / '..v1' / 'policy.yaml').write_bytes(_b(text))
            os.symlink('..v1', d / '..data')
            os.symlink('..data/policy.yaml', p)
        else:
            p.write_bytes(_b(text))
        return p

    def run(self, args, timeout=20, **kw):
        """Run the daemon binary to completion (CLI checks)."""
        return subprocess.run([self.bin] + [str(a) for a in args],
                              capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, **kw)

    def mount(self, policy=DEFAULT_POLICY, inplace=False, options=(),
              backing=None, audit=False, policy_path=None,
              policy_style='file', debug=False, timeout=10,
              suite_options=True):
        """Start `taglockfs -f -o policy=P[,audit_log=A][,opts] BACKING MNT`
        (or `... DIR` when inplace) and wait for the mount. The options in
        $TLK_MOUNT_OPTIONS (comma-separated; scripts/test.sh's io_uring
        pass sets io_uring) are added unless suite_options is False (a
        mount that only stands in for a backing filesystem)."""
        name = 'mount%d' % (len(self.mounts) + 1)
        if policy_path is None:
            policy_path = self.write_policy(policy, policy_style)
        if inplace:
            mnt = Path(backing) if backing else self._next('inplace')
            mnt.mkdir(parents=True, exist_ok=True)
        else:
            mnt = self._next('mnt')
            mnt.mkdir()
            if backing is None:
                backing = self._next('backing')
                backing.mkdir()
        auditp = self._next('audit').with_suffix('.jsonl')
        log = self._next('daemon').with_suffix('.log')
        opts = ['policy=%s' % policy_path]
        if audit:
            opts.append('audit_log=%s' % auditp)
        opts += list(options)
        suite = [o for o in os.environ.get('TLK_MOUNT_OPTIONS',
                                           '').split(',') if o]
        if suite_options:
            opts += suite
        cmd = [self.bin, '-f'] + (['-d'] if debug else []) + \
            ['-o', ','.join(opts)]
        backing_fd = None
        if inplace:
            # A descriptor opened before the mount still reaches the
            # directory underneath it: that is the backing view.
            backing_fd = os.open(mnt, os.O_PATH | os.O_DIRECTORY)
            backing = Path('/proc/%d/fd/%d' % (os.getpid(), backing_fd))
            cmd += [str(mnt)]
        else:
            cmd += [str(backing), str(mnt)]
        logf = open(log, 'wb')
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        logf.close()
        m = Mount(self, name, backing, mnt, policy_path, auditp, log, proc,
                  inplace, cmd, backing_fd)
        self.mounts.append(m)
        deadline = time.monotonic() + timeout
        while not mounted_fuse(mnt):
            if proc.poll() is not None:
                m.unmount(check=False)
                raise MountError('%s exited with status %s before mounting; '
                                 'command %s; log:\n%s'
                                 % (self.bin, proc.returncode, cmd,
                                    m.log_text()[-4000:]))
            if time.monotonic() > deadline:
                m.unmount(check=False)
                raise MountError('%s did not mount %s within %ss; command '
                                 '%s; log:\n%s' % (self.bin, mnt, timeout,
                                                   cmd, m.log_text()[-4000:]))
            time.sleep(0.02)
        if suite_options and 'io_uring' in suite:
            self.wait_rings(m)
        return m

    @staticmethod
    def wait_rings(m):
        """The io_uring pass must really run over io_uring: the daemon
        holds its rings' descriptors once the kernel took them."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            fds = '/proc/%d/fd' % m.proc.pid
            for fd in os.listdir(fds):
                try:
                    if os.readlink(os.path.join(fds, fd)) == \
                            'anon_inode:[io_uring]':
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        m.unmount(check=False)
        raise MountError('asked for io_uring, but the daemon holds no ring; '
                         'log:\n' + m.log_text()[-4000:])

    def mount_second(self, m, **kw):
        """Another daemon on the same backing and policy file (a replica
        sharing storage), at its own mount point."""
        if m.inplace:
            raise ValueError('mount_second needs a BACKING MNT mount')
        return self.mount(backing=m.backing, policy_path=m.policy, **kw)

    def close(self):
        """Unmount everything (newest first); remove the temp tree when no
        mount is left. Returns a list of problems."""
        problems = []
        for m in reversed(self.mounts):
            try:
                m.unmount()
            except Exception as e:  # noqa: BLE001 - report all
                problems.append(str(e))
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        leftover = [line for line in open('/proc/self/mountinfo')
                    if str(self.base) in line]
        if leftover:
            for line in leftover:
                mp = line.split()[4]
                subprocess.run(['umount', '-l', mp], capture_output=True)
            problems.append('mounts left behind: %s' % ''.join(leftover))
        else:
            shutil.rmtree(self.base, ignore_errors=True)
        return problems

    def start(self, args, **kw):
        """Popen the daemon with arbitrary args (CLI failure tests); the
        process is killed at teardown if still running."""
        p = subprocess.Popen([self.bin] + [str(a) for a in args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def tmpdir(self, what='dir'):
        d = self._next(what)
        d.mkdir()
        return d


# -------------------------------------------------------------- threading

class Poller(threading.Thread):
    """Reads a file in a loop until stopped; records every distinct
    content seen (and errors), so tests can assert a link was never empty
    or torn."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.seen = {}
        self.errors = {}
        self.reads = 0
        self._stop_ev = threading.Event()

    def run(self):
        while not self._stop_ev.is_set():
            try:
                with open(self.path, 'rb') as f:
                    data = f.read()
                self.seen[data] = self.seen.get(data, 0) + 1
            except OSError as e:
                self.errors[e.errno] = self.errors.get(e.errno, 0) + 1
            self.reads += 1

    def stop(self):
        self._stop_ev.set()
        self.join(10)
        return self


def snapshot(root):
    """Everything below root without following symlinks: files with their
    bytes and link count, symlinks with their target, dirs, others."""
    root = Path(root)
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            st = os.lstat(p)
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ('symlink', os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ('dir',)
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ('file', read(p), st.st_nlink)
            else:
                out[rel] = ('special', stat.S_IFMT(st.st_mode))
    return out
