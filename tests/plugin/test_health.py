# SPDX-License-Identifier: MIT
"""taglockfs-plugin under faults of one volume: a stopped (hung) taglockfs
must not keep another volume down nor hold up the API, and a Create racing
a Remove of the same name must never answer success for a directory that is
being deleted. Spoken to over the plugin's socket, with real mounts."""
import errno
import json
import os
import signal
import threading
import time

from plugutil import (call, daemon_pids, err, hexdigest, mount_state, ok,
                      read_text, tag_link, taglockfs_mounts, wait_for, write_tag)

API_BOUND_S = 1.0     # List/Get/Path must answer within this, always
RECOVERY_BOUND_S = 10  # a killed taglockfs is mounted again within this


def create(p, name, policy):
    return ok(p.sock, 'VolumeDriver.Create', {'Name': name, 'Opts': {'policy': policy}})


def get(p, name):
    return ok(p.sock, 'VolumeDriver.Get', {'Name': name})['Volume']


def names(p):
    return sorted(v['Name'] for v in ok(p.sock, 'VolumeDriver.List')['Volumes'])


def proc_state(pid):
    """The one-letter state of a process ('T' when stopped)."""
    with open('/proc/%d/stat' % pid) as f:
        return f.read().rsplit(')', 1)[1].split()[0]


class ApiWatch:
    """Calls List, Get and Path for the given volumes in a loop from its own
    thread and records how long each call took and any that failed."""

    def __init__(self, sock, vols):
        self.sock, self.vols = sock, vols
        self.slowest = (0.0, None)
        self.failures = []
        self.calls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _one(self, method, body):
        t = time.monotonic()
        try:
            status = call(self.sock, method, body, timeout=30)[0]
        except OSError as e:
            status = repr(e)
        took = time.monotonic() - t
        self.calls += 1
        if took > self.slowest[0]:
            self.slowest = (took, '%s %s' % (method, body))
        if status != 200:
            self.failures.append((method, body, status))

    def _run(self):
        while not self._stop.is_set():
            self._one('VolumeDriver.List', None)
            for v in self.vols:
                self._one('VolumeDriver.Get', {'Name': v})
                self._one('VolumeDriver.Path', {'Name': v})
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(60)


def test_hung_volume_does_not_keep_a_killed_one_down(plugin, policy):
    create(plugin, 'hung', policy)
    create(plugin, 'killed', policy)
    hung_mnt, killed_mnt = plugin.mnt('hung'), plugin.mnt('killed')
    for mnt in (hung_mnt, killed_mnt):
        assert write_tag(mnt, 'test/example', 'v1', hexdigest('a')) == 0
    (hung_pid,) = daemon_pids(hung_mnt)
    (killed_pid,) = daemon_pids(killed_mnt)

    with ApiWatch(plugin.sock, ['hung', 'killed']) as api:
        os.kill(hung_pid, signal.SIGSTOP)
        try:
            # Several health-check rounds (--watch-interval 500) reach the
            # stopped daemon: a statfs on its mount now blocks.
            time.sleep(2)
            os.kill(killed_pid, signal.SIGKILL)
            t0 = time.monotonic()
            wait_for(lambda: daemon_pids(killed_mnt) not in ([], [killed_pid])
                     and mount_state(killed_mnt) == 'live',
                     RECOVERY_BOUND_S, 'the killed volume to be mounted again')
            recovered_after = time.monotonic() - t0
            assert proc_state(hung_pid) == 'T', 'the other daemon is still stopped'
            # Back with its data and its protection.
            assert read_text(tag_link(killed_mnt, 'test/example', 'v1')) == hexdigest('a')
            assert write_tag(killed_mnt, 'test/example', 'v1', hexdigest('b')) == errno.EPERM
            assert write_tag(killed_mnt, 'test/example', 'v2', hexdigest('b')) == 0
            assert len(taglockfs_mounts(killed_mnt)) == 1
            wait_for(lambda: get(plugin, 'killed')['Status']['health'] == 'ok', 5,
                     'the killed volume to be reported healthy')
            assert get(plugin, 'killed')['Status']['mounted'] is True

            # The stopped one is reported, not remounted, and a Mount of it
            # is refused within the check deadline instead of hanging.
            wait_for(lambda: get(plugin, 'hung')['Status']['health'] == 'hung', 10,
                     'the stopped volume to be reported hung')
            st = get(plugin, 'hung')['Status']
            assert st['mounted'] is False and 'does not answer' in st['health_error'], st
            t = time.monotonic()
            msg = err(plugin.sock, 'VolumeDriver.Mount', {'Name': 'hung', 'ID': 'c1'},
                      timeout=30)
            assert 'does not answer' in msg, msg
            assert time.monotonic() - t < 8, 'Mount of a hung volume waited past its deadline'
            assert daemon_pids(hung_mnt) == [hung_pid], 'a stopped daemon is left alone'
            assert proc_state(hung_pid) == 'T'
        finally:
            os.kill(hung_pid, signal.SIGCONT)

        wait_for(lambda: get(plugin, 'hung')['Status']['health'] == 'ok', 10,
                 'the resumed volume to be healthy again')
        assert get(plugin, 'hung')['Status']['mounted'] is True
        assert daemon_pids(hung_mnt) == [hung_pid], 'the resumed daemon was kept'
        assert write_tag(hung_mnt, 'test/example', 'v1', hexdigest('b')) == errno.EPERM
        assert ok(plugin.sock, 'VolumeDriver.Mount',
                  {'Name': 'hung', 'ID': 'c1'}) == {'Mountpoint': hung_mnt}

    print('killed volume back after %.2f s; %d API calls, slowest %.3f s (%s)'
          % (recovered_after, api.calls, api.slowest[0], api.slowest[1]))
    assert api.failures == []
    assert api.calls > 50
    assert api.slowest[0] < API_BOUND_S, 'API call too slow: %.3f s (%s)' % api.slowest
    log = plugin.log()
    assert 'does not answer' in log and 'answers again' in log


# ------------------------------------------------------------ Create vs Remove

FILES = 3000  # enough that deleting the volume's tree takes a while


def fill(data):
    for d in range(30):
        sub = os.path.join(data, 'fill', 'd%02d' % d)
        os.makedirs(sub)
        for i in range(FILES // 30):
            with open(os.path.join(sub, 'f%03d' % i), 'w') as f:
                f.write('x')


def listed_in_state_file(p, name):
    try:
        with open(os.path.join(p.state, 'state.json')) as f:
            return any(v['name'] == name for v in json.load(f)['volumes'])
    except (OSError, ValueError):
        return True  # being replaced: ask again


def check_intact(p, name, policy, rnd):
    """What a user relies on after Create answered success."""
    mnt, data = p.mnt(name), p.data(name)
    where = 'round %d' % rnd
    assert name in names(p), where
    assert os.path.isdir(data), '%s: backing directory missing' % where
    assert mount_state(mnt) == 'live' and taglockfs_mounts(mnt) == [mnt], \
        '%s: mount %s' % (where, mount_state(mnt))
    probe = os.path.join(mnt, 'probe-%d' % rnd)
    with open(probe, 'w') as f:
        f.write(where)
    assert read_text(os.path.join(data, 'probe-%d' % rnd)) == where, \
        '%s: the mount does not serve the backing directory' % where
    assert write_tag(mnt, 'test/example', 'v1', hexdigest('a')) == 0, where
    assert write_tag(mnt, 'test/example', 'v1', hexdigest('b')) == errno.EPERM, where
    assert read_text(tag_link(data, 'test/example', 'v1')) == hexdigest('a'), where
    time.sleep(0.3)
    assert os.path.isdir(data), '%s: backing directory deleted after Create' % where
    assert os.path.exists(os.path.join(data, 'probe-%d' % rnd)), where
    assert get(p, name)['Status']['policy'] == policy


def test_create_racing_remove_of_same_name(plugin, policy):
    name = 'race'
    outcomes = []
    for rnd in range(8):
        create(plugin, name, policy)
        fill(plugin.data(name))
        res = {}

        def remove():
            res['remove'] = call(plugin.sock, 'VolumeDriver.Remove', {'Name': name})

        th = threading.Thread(target=remove)
        th.start()
        # Create as soon as the volume has left the state file: Remove is
        # then deleting its directory.
        end = time.monotonic() + 30
        while listed_in_state_file(plugin, name) and time.monotonic() < end:
            pass
        res['create'] = call(plugin.sock, 'VolumeDriver.Create',
                             {'Name': name, 'Opts': {'policy': policy}})
        th.join(60)
        assert res['remove'][0] == 200, res['remove']
        outcomes.append(res['create'][0])
        if res['create'][0] == 200:
            check_intact(plugin, name, policy, rnd)
            ok(plugin.sock, 'VolumeDriver.Remove', {'Name': name})
        assert name not in names(plugin)
        assert not os.path.exists(plugin.vol_dir(name)), \
            'round %d: Remove left %s' % (rnd, plugin.vol_dir(name))
    # Serialised, the Create waits for the Remove and then succeeds.
    assert outcomes == [200] * len(outcomes), outcomes
