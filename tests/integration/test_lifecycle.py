# SPDX-License-Identifier: MIT
"""Lifecycle (docs/design.md, "Lifecycle"): a restart after kill -9 needs no
hand in either form, SIGTERM/SIGINT stop with status 0 (also while a client
holds a file, and within stop_timeout while a request hangs), the separate
mount point refuses writes while unmounted (guard_mountpoint), READY=1 and
STOPPING=1 reach $NOTIFY_SOCKET, the shipped systemd units pass
`systemd-analyze verify`, and the registry's storage health check reports
a dead mount.

A real systemd is not booted here: the units are verified, not run.
"""
import ctypes
import errno
import fcntl
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

import registry as R
import tlkutil as T

SOURCE_ROOT = Path(os.environ.get('TLK_SOURCE_ROOT')
                   or Path(__file__).resolve().parents[2])
UNITS = SOURCE_ROOT / 'contrib' / 'systemd'
UNIT = 'taglockfs-registry.service'
DROPIN = Path('docker-registry.service.d') / 'taglockfs.conf'
REPO = 'test/example'  # immutable in DEFAULT_POLICY

FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_IMMUTABLE_FL = 0x10


# ---------------------------------------------------------------- helpers

def stat_errno(path):
    """errno of statfs(path), or 0. statfs always asks the daemon; stat
    may answer from the kernel's attribute cache of a dead mount."""
    try:
        os.statvfs(path)
    except OSError as e:
        return e.errno
    return 0


def live_mount(mnt):
    """A mount answers stat() on `mnt` (not a dead one, not the bare
    directory): its device differs from its parent's."""
    try:
        os.statvfs(mnt)
        return os.stat(mnt).st_dev != os.stat(Path(mnt).parent).st_dev
    except OSError:
        return False


def wait_served(proc, mnt, log, timeout=10):
    """Wait until a live FUSE mount sits on `mnt`."""
    deadline = time.monotonic() + timeout
    while True:
        if live_mount(mnt) and T.mounted_fuse(mnt):
            return
        if proc.poll() is not None:
            raise AssertionError('taglockfs exited with %s before serving '
                                 '%s; log:\n%s' % (proc.returncode, mnt,
                                                   Path(log).read_text()))
        if time.monotonic() > deadline:
            raise AssertionError('%s not served within %ss; log:\n%s'
                                 % (mnt, timeout, Path(log).read_text()))
        time.sleep(0.02)


def start_again(tlk, m, cmd=None, wait=True):
    """Run m's command again (a restart with no manual step) as a new
    Mount the factory tears down; m is taken out of the teardown."""
    cmd = cmd or m.cmd
    log = tlk._next('daemon').with_suffix('.log')
    with open(log, 'wb') as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    again = T.Mount(tlk, m.name + '-again', m.backing, m.mnt, m.policy,
                    m.audit, log, proc, m.inplace, cmd, m.backing_fd)
    m.backing_fd = None
    m.unmounted = True
    tlk.mounts.append(again)
    if wait:
        wait_served(proc, m.mnt, log)
    return again


def kill9(m):
    m.proc.kill()
    m.proc.wait(timeout=10)
    # The dead mount stays: what an operator finds after a crash.
    assert T.mounted_fuse(m.mnt)
    # ENOTCONN; ECONNABORTED when it was served over io_uring.
    assert stat_errno(m.mnt) in (errno.ENOTCONN, errno.ECONNABORTED)


def stop(m, sig=signal.SIGTERM, timeout=20):
    """Send sig; return the exit status. m leaves the teardown."""
    m.proc.send_signal(sig)
    status = m.proc.wait(timeout=timeout)
    m.unmounted = True
    if m.backing_fd is not None:
        os.close(m.backing_fd)
        m.backing_fd = None
    # As Mount.unmount does: a sanitizer build's report fails the test.
    for marker in ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer',
                   'runtime error:'):
        assert marker not in m.log_text(), m.log_text()
    return status


def immutable(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        buf = fcntl.ioctl(fd, FS_IOC_GETFLAGS, struct.pack('i', 0))
        return bool(struct.unpack('i', buf)[0] & FS_IMMUTABLE_FL)
    finally:
        os.close(fd)


def clear_immutable(path):
    """chattr -i, so the temp tree can be removed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        flags = struct.unpack('i', fcntl.ioctl(fd, FS_IOC_GETFLAGS,
                                               struct.pack('i', 0)))[0]
        fcntl.ioctl(fd, FS_IOC_SETFLAGS,
                    struct.pack('i', flags & ~FS_IMMUTABLE_FL))
    except OSError:
        pass
    finally:
        os.close(fd)


@pytest.fixture
def unguard(tlk):
    """Paths to chattr -i at teardown (after the unmounts, before the
    factory removes its tree: this fixture is torn down first)."""
    paths = []
    yield paths
    for m in tlk.mounts:
        if m.alive():
            m.unmount(check=False)
    for p in paths:
        clear_immutable(p)


def push_protected(m, tag='v1', n=1):
    """A protected tag written through m."""
    T.push_tag(m.root, REPO, tag, T.digest(n))


def assert_still_protected(m, tag='v1', n=1):
    link = T.tag_link(m.root, REPO, tag)
    assert T.read(link) == T.digest(n).encode()
    T.expect_errno(errno.EPERM, T.write_link, link, T.digest(n + 100))
    assert T.read(T.tag_link(m.broot, REPO, tag)) == T.digest(n).encode()


# ------------------------------------------------------ restart by itself

@pytest.mark.parametrize('inplace', [False, True], ids=['separate', 'inplace'])
def test_restart_after_kill9_needs_no_hand(tlk, inplace):
    m = tlk.mount(inplace=inplace)
    push_protected(m)
    (m.mnt / 'before-crash').write_bytes(b'written before kill -9\n')
    kill9(m)

    again = start_again(tlk, m)
    line = again.wait_line('detached the dead taglockfs mount')
    assert str(m.mnt) in line
    # Files written before the crash are there, through the new mount.
    assert (m.mnt / 'before-crash').read_bytes() == b'written before kill -9\n'
    assert_still_protected(again)
    # A second crash and restart works the same way.
    kill9(again)
    third = start_again(tlk, again)
    assert_still_protected(third)
    if inplace:
        # Still the same directory underneath, served through the mount.
        assert T.mounted_fuse(m.mnt)


def test_restart_with_a_registry_and_its_health_check(tlk, tmp_path,
                                                      monkeypatch):
    """The registry (health.storagedriver on) reports the dead mount on
    /v2/, and recovers once taglockfs restarted by itself."""
    m = tlk.mount(inplace=True)
    monkeypatch.setattr(R, 'CONFIG', R.CONFIG + (
        'health:\n  storagedriver:\n    enabled: true\n'
        '    interval: 1s\n    threshold: 2\n'))
    reg = R.Registry(m.mnt, workdir=tmp_path / 'registry')
    try:
        reg.start()
        oci = tmp_path / 'img'
        dgst = R.mkoci(oci, 'lifecycle')
        rc, err = reg.push(oci, '%s:v1' % REPO)
        assert rc == 0, err
        kill9(m)
        assert wait_status(reg, 503, 15), 'the health check did not see ' \
            'the dead mount: ' + reg.log_text()[-2000:]
        start_again(tlk, m)
        assert wait_status(reg, 200, 15), reg.log_text()[-2000:]
        assert reg.manifest_digest(REPO, 'v1') == dgst
        oci2 = tmp_path / 'img2'
        R.mkoci(oci2, 'lifecycle-other')
        rc, err = reg.push(oci2, '%s:v1' % REPO)
        assert rc != 0, 'overwrite of a protected tag went through'
        assert reg.manifest_digest(REPO, 'v1') == dgst
    finally:
        reg.cleanup()


def wait_status(reg, want, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, _, _ = reg.request('GET', '/v2/', timeout=3)
        except OSError:
            status = None
        if status == want:
            return True
        time.sleep(0.25)
    return False


def test_dead_mount_of_another_filesystem_is_left_alone(tlk):
    """A dead FUSE mount that is not taglockfs's is a clear error, and it
    stays mounted."""
    mnt = tlk.tmpdir('othermnt')
    backing = tlk.tmpdir('otherbacking')
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open('/dev/fuse', os.O_RDWR)
    opts = 'fd=%d,rootmode=40000,user_id=0,group_id=0' % fd
    if libc.mount(b'otherfs', bytes(mnt), b'fuse.otherfs', 0,
                  opts.encode()) != 0:
        os.close(fd)
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), str(mnt))
    try:
        os.close(fd)  # the "daemon" is gone: the mount is dead
        assert stat_errno(mnt) == errno.ENOTCONN
        policy = tlk.write_policy(T.DEFAULT_POLICY)
        r = tlk.run(['-f', '-o', 'policy=%s' % policy, backing, mnt])
        err = r.stderr.decode()
        assert r.returncode == 1, err
        assert 'a dead fuse.otherfs mount' in err and 'left alone' in err, err
        assert T.mounted_fuse(mnt) and stat_errno(mnt) == errno.ENOTCONN
    finally:
        subprocess.run(['umount', '-l', str(mnt)], capture_output=True)


# ------------------------------------------------------------------ stop

@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT],
                         ids=['SIGTERM', 'SIGINT'])
def test_stop_signal_exits_0_idle(tlk, sig):
    m = tlk.mount()
    assert stop(m, sig) == 0, m.log_text()
    assert not T.mounted_fuse(m.mnt)
    m.wait_line('stopped by')


def test_sigterm_exits_0_while_a_client_holds_a_file(tlk):
    m = tlk.mount()
    (m.mnt / 'held').write_bytes(b'held open\n')
    fd = os.open(m.mnt / 'held', os.O_RDONLY)
    cwd = os.open('.', os.O_RDONLY)
    os.chdir(m.mnt)  # a client whose working directory is inside
    try:
        assert stop(m) == 0, m.log_text()
    finally:
        os.fchdir(cwd)
        os.close(cwd)
    assert not T.mounted_fuse(m.mnt)
    # The client's descriptor outlived the daemon: it gets an error, or,
    # where the kernel passes reads through to the backing file (libfuse
    # 3.17 build), that file's own bytes; never anything else.
    try:
        data = os.read(fd, 10)
    except OSError as e:
        assert e.errno in (errno.ENOTCONN, errno.ECONNABORTED), e
    else:
        assert data == b'held open\n'[:10], data
    finally:
        T.close_quietly(fd)


def test_sigterm_with_a_hung_request_exits_within_stop_timeout(tlk):
    """A request that never ends (the backing is a stopped FUSE daemon)
    delays the stop by stop_timeout at most; then the mount is detached
    and the daemon exits 0."""
    # The lower mount stands in for a backing filesystem that stopped
    # answering; served over io_uring, a stopped daemon's requests count as
    # sent and its callers wait uninterruptibly, which no backing
    # filesystem this stands for does.
    lower = tlk.mount(suite_options=False)
    m = tlk.mount(backing=lower.mnt, options=['stop_timeout=2'])
    outcome = {}

    def client():
        try:
            os.stat(m.mnt / 'never-answered')
            outcome['result'] = 'answered'
        except OSError as e:
            outcome['result'] = e.errno

    lower.proc.send_signal(signal.SIGSTOP)
    try:
        t = threading.Thread(target=client, daemon=True)
        t.start()
        time.sleep(0.5)
        assert t.is_alive(), 'the request was answered: %r' % outcome
        t0 = time.monotonic()
        m.proc.send_signal(signal.SIGTERM)
        try:
            status = m.proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            raise AssertionError('no exit 8 s after SIGTERM with '
                                 'stop_timeout=2; log:\n' + m.log_text())
        took = time.monotonic() - t0
        m.unmounted = True
        assert status == 0, m.log_text()
        assert took >= 1.5, took
        m.wait_line('requests still in progress', 'detached')
        assert not T.mounted_fuse(m.mnt)
        t.join(5)
        assert outcome.get('result') in (errno.ECONNABORTED,
                                         errno.ENOTCONN), outcome
    finally:
        lower.proc.send_signal(signal.SIGCONT)


# ------------------------------------------------- never expose the bare dir

def test_guarded_mountpoint_refuses_writes_when_unmounted(tlk, unguard):
    m = tlk.mount(options=['guard_mountpoint'])
    unguard.append(m.mnt)
    # Mounted: the registry's writes go through taglockfs as usual.
    push_protected(m)
    assert stop(m) == 0
    assert not T.mounted_fuse(m.mnt)
    assert immutable(m.mnt)
    # Unmounted: even root cannot create anything in the bare directory.
    T.expect_errno(errno.EPERM, os.mkdir, m.mnt / 'docker')
    T.expect_errno(errno.EPERM, (m.mnt / 'x').write_bytes, b'x')
    assert os.listdir(m.mnt) == []
    # A crash, and a hand that detaches the dead mount: still refused.
    again = start_again(tlk, m)
    kill9(again)
    subprocess.run(['umount', '-l', str(m.mnt)], check=True)
    T.expect_errno(errno.EPERM, os.mkdir, m.mnt / 'docker')
    third = start_again(tlk, again)
    assert_still_protected(third)


def test_guard_is_ignored_in_place(tlk):
    m = tlk.mount(inplace=True, options=['guard_mountpoint'])
    m.wait_line('guard_mountpoint: ignored in the in-place form')
    assert stop(m) == 0
    assert not immutable(m.mnt)


# --------------------------------------------------------- notify socket

@pytest.mark.parametrize('kind', ['path', 'abstract'])
def test_ready_and_stopping_reach_notify_socket(tlk, kind):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if kind == 'path':
        addr = str(tlk.tmpdir('notify') / 'notify.sock')
        sock.bind(addr)
    else:
        addr = '@tlk-notify-%d-%d' % (os.getpid(), time.monotonic_ns())
        sock.bind('\0' + addr[1:])
    sock.settimeout(10)
    backing = tlk.tmpdir('backing')
    (backing / 'before').write_bytes(b'there before the mount\n')
    mnt = tlk.tmpdir('mnt')
    policy = tlk.write_policy(T.DEFAULT_POLICY)
    log = tlk._next('daemon').with_suffix('.log')
    cmd = [tlk.bin, '-f', '-o', 'policy=%s' % policy, str(backing), str(mnt)]
    with open(log, 'wb') as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                env=dict(os.environ, NOTIFY_SOCKET=addr))
    m = T.Mount(tlk, 'notified', backing, mnt, policy, '/nonexistent', log,
                proc, False, cmd)
    tlk.mounts.append(m)
    try:
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            raise AssertionError('no notification within 10 s; log:\n'
                                 + m.log_text())
        # At READY=1 the mount is in place and serving.
        assert (mnt / 'before').read_bytes() == b'there before the mount\n'
        assert 'READY=1' in msg.split('\n'), msg
        assert stop(m) == 0, m.log_text()
        msgs = []
        sock.settimeout(2)
        try:
            while True:
                msgs.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
        assert any('STOPPING=1' in x.split('\n') for x in msgs), msgs
    finally:
        sock.close()


# ---------------------------------------------------------- systemd units

def unit_tree(dst, binary):
    """The shipped units in a unit directory of their own, with the
    daemon's path pointing at the built binary (the one edit)."""
    dst.mkdir()
    shutil.copy(UNITS / UNIT, dst / UNIT)
    (dst / DROPIN.parent).mkdir()
    shutil.copy(UNITS / DROPIN, dst / DROPIN)
    text = (dst / UNIT).read_text()
    assert '/usr/local/bin/taglockfs ' in text
    (dst / UNIT).write_text(text.replace('/usr/local/bin/taglockfs ',
                                         binary + ' '))
    return dst


def verify(unit_dir):
    exe = shutil.which('systemd-analyze')
    assert exe, 'systemd-analyze is missing (scripts/deps.sh installs systemd)'
    assert Path('/lib/systemd/system/docker-registry.service').exists(), \
        "Debian's docker-registry.service is missing (scripts/deps.sh)"
    # The trailing ':' keeps the standard unit directories (the stock
    # docker-registry.service) after ours, whose drop-in is merged in.
    env = dict(os.environ, SYSTEMD_UNIT_PATH=str(unit_dir) + ':')
    return subprocess.run([exe, 'verify', '--man=no', UNIT,
                           'docker-registry.service'],
                          capture_output=True, text=True, env=env,
                          timeout=60)


def unit_settings(path):
    out = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(('#', '[')) and '=' in line:
            k, v = line.split('=', 1)
            out.setdefault(k, []).append(v)
    return out


def test_units_verify_and_bind_the_registry(tlk):
    d = unit_tree(tlk.tmpdir('units') / 'system', tlk.bin)
    r = verify(d)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr.strip() == '', r.stderr
    unit = unit_settings(d / UNIT)
    assert unit['Type'] == ['notify'] and unit['Restart'] == ['always']
    dropin = unit_settings(d / DROPIN)
    assert dropin['BindsTo'] == [UNIT] and dropin['After'] == [UNIT]

    # A broken copy fails, so the check above can fail.
    broken = unit_tree(tlk.tmpdir('units') / 'system', tlk.bin)
    text = (broken / DROPIN).read_text()
    (broken / DROPIN).write_text(text.replace('BindsTo=' + UNIT,
                                              'BindsTo=taglockfs-registyr.service'))
    r = verify(broken)
    assert r.returncode != 0 and 'taglockfs-registyr.service' in r.stderr, \
        r.stderr


def test_registry_start_check_needs_a_live_taglockfs_mount(tlk):
    """The drop-in's ExecStartPre, run as written against a test mount:
    it passes only while taglockfs is mounted there."""
    pre = unit_settings(UNITS / DROPIN)['ExecStartPre'][0]
    assert '/var/lib/docker-registry' in pre
    m = tlk.mount(inplace=True)
    argv = pre.replace('/var/lib/docker-registry', str(m.mnt)).split()
    assert subprocess.run(argv, capture_output=True).returncode == 0
    assert stop(m) == 0
    # Unmounted: the plain directory is what the registry would see.
    assert subprocess.run(argv, capture_output=True).returncode != 0
