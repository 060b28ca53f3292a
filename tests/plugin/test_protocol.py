# SPDX-License-Identifier: MIT
"""taglockfs-plugin spoken to directly over its unix socket: every endpoint,
every error path, idempotency, concurrency, persistence and recovery."""
import datetime
import errno
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from plugutil import (PLUGIN, TAGLOCKFS, call, daemon_pids, err, hexdigest,
                      mount_state, ok, raw, read_text, tag_link, taglockfs_mounts,
                      wait_for, write_tag)


def create(p, name, policy, **opts):
    opts = dict(opts, policy=policy) if policy else opts
    return ok(p.sock, 'VolumeDriver.Create', {'Name': name, 'Opts': opts})


def get(p, name):
    return ok(p.sock, 'VolumeDriver.Get', {'Name': name})['Volume']


def names(p):
    return sorted(v['Name'] for v in ok(p.sock, 'VolumeDriver.List')['Volumes'])


# ------------------------------------------------------------ basic endpoints

def test_activate_and_capabilities(plugin):
    for body in (None, {}, b'null'):
        kw = {'raw_body': body} if isinstance(body, bytes) else {}
        status, doc, headers = call(plugin.sock, 'Plugin.Activate',
                                    None if isinstance(body, bytes) else body, **kw)
        assert status == 200 and doc == {'Implements': ['VolumeDriver']}
        assert 'json' in headers['Content-Type']
    assert ok(plugin.sock, 'VolumeDriver.Capabilities') == {'Capabilities': {'Scope': 'local'}}
    assert ok(plugin.sock, 'VolumeDriver.List') == {'Volumes': []}


def test_volume_lifecycle(plugin, policy):
    assert create(plugin, 'v1', policy) == {}
    mnt = plugin.mnt('v1')
    vol = get(plugin, 'v1')
    assert vol['Name'] == 'v1' and vol['Mountpoint'] == mnt
    datetime.datetime.strptime(vol['CreatedAt'], '%Y-%m-%dT%H:%M:%SZ')
    st = vol['Status']
    assert st['policy'] == policy and st['mounted'] is True
    assert st['refused_writes'] == 0 and st['mount_ids'] == 0
    assert taglockfs_mounts(mnt) == [mnt], 'a taglockfs mount serves the volume'
    assert ok(plugin.sock, 'VolumeDriver.List') == {'Volumes': [{'Name': 'v1', 'Mountpoint': mnt}]}
    assert ok(plugin.sock, 'VolumeDriver.Path', {'Name': 'v1'}) == {'Mountpoint': mnt}
    assert [v['name'] for v in plugin.state_doc()['volumes']] == ['v1']

    # Data written through the mount lands in the backing directory.
    with open(os.path.join(mnt, 'hello'), 'w') as f:
        f.write('world')
    assert read_text(os.path.join(plugin.data('v1'), 'hello')) == 'world'

    assert ok(plugin.sock, 'VolumeDriver.Remove', {'Name': 'v1'}) == {}
    assert taglockfs_mounts(mnt) == []
    assert names(plugin) == [] and plugin.state_doc()['volumes'] == []
    assert 'v1' in err(plugin.sock, 'VolumeDriver.Get', {'Name': 'v1'})


def test_create_is_idempotent_for_same_options(plugin, policy, work):
    create(plugin, 'v', policy)
    pids = daemon_pids(plugin.mnt('v'))
    create(plugin, 'v', policy)
    assert daemon_pids(plugin.mnt('v')) == pids, 'a repeated Create does not remount'
    audit = os.path.join(work, 'audit.jsonl')
    msg = err(plugin.sock, 'VolumeDriver.Create',
              {'Name': 'v', 'Opts': {'policy': policy, 'audit_log': audit}})
    assert 'already exists' in msg
    other = os.path.join(work, 'other.yaml')
    with open(other, 'w') as f:
        f.write(read_text(policy))
    assert 'already exists' in err(plugin.sock, 'VolumeDriver.Create',
                                   {'Name': 'v', 'Opts': {'policy': other}})
    assert get(plugin, 'v')['Status']['policy'] == policy
    assert len(taglockfs_mounts(plugin.mnt('v'))) == 1


def nothing_created(p, name):
    assert names(p) == []
    assert not os.path.exists(p.vol_dir(name)), os.listdir(os.path.dirname(p.vol_dir(name)))
    assert taglockfs_mounts(p.mnt(name)) == []


def test_create_errors_leave_nothing(plugin, policy, work):
    sock = plugin.sock
    bad_yaml = os.path.join(work, 'bad.yaml')
    with open(bad_yaml, 'w') as f:
        f.write('version: 1\nrepositories:\n  - name: [oops\n')
    cases = [
        ({'Name': 'v', 'Opts': {'policy': policy, 'size': '1G'}}, "unknown option 'size'"),
        ({'Name': 'v', 'Opts': {}}, 'needs a policy'),
        ({'Name': 'v'}, 'needs a policy'),
        ({'Name': 'v', 'Opts': {'policy': '/nonexistent/p.yaml'}}, '/nonexistent/p.yaml'),
        ({'Name': 'v', 'Opts': {'policy': 'policy.yaml'}}, 'absolute'),
        ({'Name': 'v', 'Opts': {'policy': policy + ',x'}}, 'comma'),
        ({'Name': 'v', 'Opts': {'policy': policy, 'audit_log': '/nonexistent/a.log'}}, '/nonexistent'),
        ({'Name': 'v', 'Opts': {'policy': bad_yaml}}, 'bad.yaml'),
        ({'Name': 'v', 'Opts': 'policy=x'}, 'Opts'),
        ({'Name': 'v', 'Opts': {'policy': 7}}, 'string'),
        ({'Name': '../v', 'Opts': {'policy': policy}}, 'invalid volume name'),
        ({'Name': '', 'Opts': {'policy': policy}}, 'Name'),
        ({'Opts': {'policy': policy}}, 'Name'),
        ({'Name': 5}, 'Name'),
    ]
    for body, words in cases:
        msg = err(sock, 'VolumeDriver.Create', body)
        assert words in msg, (body, msg)
        nothing_created(plugin, 'v')


def test_invalid_policy_reports_taglockfs_message(plugin, work):
    bad = os.path.join(work, 'typo.yaml')
    with open(bad, 'w') as f:
        f.write('version: 1\nrepositories:\n  - name: test/x\n    imutable: true\n')
    msg = err(plugin.sock, 'VolumeDriver.Create', {'Name': 'v', 'Opts': {'policy': bad}})
    assert 'taglockfs' in msg and 'imutable' in msg, msg
    nothing_created(plugin, 'v')


def test_default_policy(plugins, policy):
    p = plugins.start(args=['--default-policy', policy])
    ok(p.sock, 'VolumeDriver.Create', {'Name': 'd', 'Opts': {}})
    assert get(p, 'd')['Status']['policy'] == policy
    assert taglockfs_mounts(p.mnt('d'))


def test_bad_bodies(plugin, policy):
    assert 'not valid JSON' in err(plugin.sock, 'VolumeDriver.Create', raw_body=b'{"Name":')
    assert 'not valid JSON' in err(plugin.sock, 'VolumeDriver.Get', raw_body=b'\xff\xfe')
    assert 'JSON object' in err(plugin.sock, 'VolumeDriver.Get', raw_body=b'[1,2]')
    assert 'JSON object' in err(plugin.sock, 'VolumeDriver.Mount')
    assert 'not valid JSON' in err(plugin.sock, 'VolumeDriver.Get',
                                   raw_body=b'{"Name":"a","Name":"b"}')
    create(plugin, 'v', policy)
    assert 'ID' in err(plugin.sock, 'VolumeDriver.Mount', {'Name': 'v'})
    assert 'ID' in err(plugin.sock, 'VolumeDriver.Unmount', {'Name': 'v', 'ID': 3})


def test_unknown_volume(plugin):
    for method in ('Get', 'Path', 'Remove'):
        assert 'nope' in err(plugin.sock, 'VolumeDriver.' + method, {'Name': 'nope'})
    for method in ('Mount', 'Unmount'):
        assert 'nope' in err(plugin.sock, 'VolumeDriver.' + method, {'Name': 'nope', 'ID': 'x'})


def test_http_level_errors(plugin):
    s = plugin.sock
    status, doc, _ = call(s, 'VolumeDriver.Nothing', {})
    assert status == 404 and 'unknown endpoint' in doc['Err']
    status, doc, _ = call(s, 'VolumeDriver.List', http_method='GET')
    assert status == 405 and 'POST' in doc['Err']
    assert raw(s, b'garbage\r\n\r\n')[0] == 400
    assert raw(s, b'POST /Plugin.Activate HTTP/2.0\r\n\r\n')[0] == 505
    assert raw(s, b'POST /Plugin.Activate HTTP/1.1\r\nContent-Length: 3\r\n'
               b'Content-Length: 4\r\n\r\nnull')[0] == 400
    assert raw(s, b'POST /Plugin.Activate HTTP/1.1\r\nContent-Length: x\r\n\r\n')[0] == 400
    big_head = b'POST /Plugin.Activate HTTP/1.1\r\n' + b'X-A: ' + b'a' * 20000 + b'\r\n\r\n'
    assert raw(s, big_head)[0] == 431
    assert raw(s, b'POST /VolumeDriver.Get HTTP/1.1\r\nContent-Length: 5000000\r\n\r\n')[0] == 413
    status, text = raw(s, b'POST /VolumeDriver.List HTTP/1.1\r\n'
                       b'Transfer-Encoding: chunked\r\n\r\n'
                       b'2\r\n{}\r\n0\r\n\r\n')
    assert status == 200 and '"Volumes"' in text
    status, text = raw(s, b'POST /VolumeDriver.Get HTTP/1.1\r\n'
                       b'Transfer-Encoding: chunked\r\n\r\nzz\r\n')
    assert status == 400
    body = b'{"Name":"zzz"}'
    status, text = raw(s, b'POST /VolumeDriver.Get HTTP/1.1\r\nExpect: 100-continue\r\n'
                       b'Content-Length: %d\r\n\r\n' % len(body),
                       send_after=(b'100 Continue\r\n\r\n', body))
    assert 'HTTP/1.1 100 Continue' in text and status == 500 and 'zzz' in text
    # A client that connects and says nothing does not stop the others.
    import socket as so
    idle = so.socket(so.AF_UNIX, so.SOCK_STREAM)
    idle.connect(s)
    try:
        assert ok(s, 'VolumeDriver.List') == {'Volumes': []}
    finally:
        idle.close()


# ------------------------------------------------------------ mount IDs

def test_mount_unmount_idempotent(plugin, policy):
    create(plugin, 'v', policy)
    mnt = plugin.mnt('v')
    assert ok(plugin.sock, 'VolumeDriver.Mount', {'Name': 'v', 'ID': 'c1'}) == {'Mountpoint': mnt}
    assert ok(plugin.sock, 'VolumeDriver.Mount', {'Name': 'v', 'ID': 'c1'}) == {'Mountpoint': mnt}
    ok(plugin.sock, 'VolumeDriver.Mount', {'Name': 'v', 'ID': 'c2'})
    assert get(plugin, 'v')['Status']['mount_ids'] == 2
    msg = err(plugin.sock, 'VolumeDriver.Remove', {'Name': 'v'})
    assert 'still mounted' in msg and 'c1' in msg
    assert taglockfs_mounts(mnt) == [mnt] and os.path.isdir(plugin.data('v'))
    ok(plugin.sock, 'VolumeDriver.Unmount', {'Name': 'v', 'ID': 'c1'})
    ok(plugin.sock, 'VolumeDriver.Unmount', {'Name': 'v', 'ID': 'c1'})
    ok(plugin.sock, 'VolumeDriver.Unmount', {'Name': 'v', 'ID': 'never-seen'})
    assert taglockfs_mounts(mnt) == [mnt], 'the filesystem stays mounted while the volume exists'
    assert 'still mounted' in err(plugin.sock, 'VolumeDriver.Remove', {'Name': 'v'})
    ok(plugin.sock, 'VolumeDriver.Unmount', {'Name': 'v', 'ID': 'c2'})
    ok(plugin.sock, 'VolumeDriver.Remove', {'Name': 'v'})
    assert names(plugin) == []


def test_remove_refused_while_mount_busy(plugin, policy):
    create(plugin, 'v', policy)
    mnt = plugin.mnt('v')
    holder = subprocess.Popen(['sleep', '60'], cwd=mnt)
    try:
        msg = err(plugin.sock, 'VolumeDriver.Remove', {'Name': 'v'})
        assert 'still uses it' in msg, msg
        assert names(plugin) == ['v'] and mount_state(mnt) == 'live'
        assert os.path.isdir(plugin.data('v'))
    finally:
        holder.kill()
        holder.wait()
    ok(plugin.sock, 'VolumeDriver.Remove', {'Name': 'v'})
    assert names(plugin) == [] and not os.path.exists(plugin.vol_dir('v'))


# ------------------------------------------------------------ enforcement

def test_protection_and_refusal_count(plugin, policy, work):
    audit = os.path.join(work, 'audit.jsonl')
    create(plugin, 'v', policy, audit_log=audit)
    mnt = plugin.mnt('v')
    assert write_tag(mnt, 'test/example', 'v1', hexdigest('a')) == 0
    assert write_tag(mnt, 'test/example', 'v1', hexdigest('b')) == errno.EPERM
    assert write_tag(mnt, 'test/example', 'latest', hexdigest('a')) == 0
    assert write_tag(mnt, 'test/example', 'latest', hexdigest('b')) == 0
    assert read_text(tag_link(plugin.data('v'), 'test/example', 'v1')) == hexdigest('a')
    st = get(plugin, 'v')['Status']
    assert st['audit_log'] == audit
    assert st['refused_writes'] == 1, st
    assert write_tag(mnt, 'test/example', 'v1', hexdigest('c')) == errno.EPERM
    assert get(plugin, 'v')['Status']['refused_writes'] == 2
    ok(plugin.sock, 'VolumeDriver.Remove', {'Name': 'v'})
    assert os.path.exists(audit), 'a user-chosen audit log outlives the volume'


# ------------------------------------------------------------ concurrency

SLOW_WRAPPER = """#!/bin/sh
case "$*" in
*slow*) sleep 4 ;;
*hang*) exec sleep 600 ;;
esac
exec %s "$@"
"""


@pytest.fixture
def wrapper(work):
    path = os.path.join(work, 'taglockfs-wrapper')
    with open(path, 'w') as f:
        f.write(SLOW_WRAPPER % TAGLOCKFS)
    os.chmod(path, 0o755)
    return path


def copy_policy(policy, work, name):
    path = os.path.join(work, name)
    with open(path, 'w') as f:
        f.write(read_text(policy))
    return path


def test_slow_mount_does_not_block_others(plugins, policy, work, wrapper):
    p = plugins.start(taglockfs=wrapper)
    slow = copy_policy(policy, work, 'slow.yaml')
    create(p, 'fast', policy)
    result = {}

    def slow_create():
        t = time.time()
        result['status'] = call(p.sock, 'VolumeDriver.Create',
                                {'Name': 'slowvol', 'Opts': {'policy': slow}})[0]
        result['took'] = time.time() - t

    th = threading.Thread(target=slow_create)
    th.start()
    time.sleep(0.5)
    t = time.time()
    assert get(p, 'fast')['Status']['mounted'] is True
    assert names(p) == ['fast'], 'a volume still being created is not listed'
    ok(p.sock, 'VolumeDriver.Mount', {'Name': 'fast', 'ID': 'x'})
    create(p, 'other', policy)
    assert time.time() - t < 2.0, 'calls on other volumes waited for a slow mount'
    th.join(30)
    assert result.get('status') == 200 and result['took'] >= 3.5, result
    assert names(p) == ['fast', 'other', 'slowvol']


def test_mount_timeout(plugins, policy, work, wrapper):
    p = plugins.start(taglockfs=wrapper, args=['--mount-timeout', '2'])
    hang = copy_policy(policy, work, 'hang.yaml')
    t = time.time()
    msg = err(p.sock, 'VolumeDriver.Create', {'Name': 'h', 'Opts': {'policy': hang}})
    assert 'within 2 s' in msg and time.time() - t < 10
    nothing_created(p, 'h')


def test_concurrent_creates_of_one_name(plugin, policy):
    results = []

    def one():
        results.append(call(plugin.sock, 'VolumeDriver.Create',
                            {'Name': 'same', 'Opts': {'policy': policy}})[0])

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [200] * 8
    assert len(taglockfs_mounts(plugin.mnt('same'))) == 1
    assert len(daemon_pids(plugin.mnt('same'))) == 1


def test_many_parallel_requests(plugin, policy):
    create(plugin, 'v', policy)
    statuses = []

    def worker(i):
        for _ in range(5):
            method = ('VolumeDriver.Get', 'VolumeDriver.List', 'VolumeDriver.Path')[i % 3]
            statuses.append(call(plugin.sock, method, {'Name': 'v'})[0])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [200] * 150


# ------------------------------------------------------------ persistence

def test_restart_keeps_volumes_and_mounts(plugins, policy):
    p = plugins.start()
    create(p, 'keep', policy)
    ok(p.sock, 'VolumeDriver.Mount', {'Name': 'keep', 'ID': 'ctr'})
    mnt = p.mnt('keep')
    assert write_tag(mnt, 'test/example', 'v1', hexdigest('a')) == 0
    pids = daemon_pids(mnt)
    assert p.stop() == 0
    assert not os.path.exists(p.sock)
    assert mount_state(mnt) == 'live', 'stopping the plugin keeps the filesystem mounted'
    assert write_tag(mnt, 'test/example', 'v1', hexdigest('b')) == errno.EPERM

    p2 = plugins.start()
    assert names(p2) == ['keep'], 'the volume is known as soon as the socket answers'
    assert get(p2, 'keep')['Mountpoint'] == mnt
    time.sleep(1.5)
    assert daemon_pids(mnt) == pids, 'a healthy mount is kept, not remounted'
    assert 'still mounted' in err(p2.sock, 'VolumeDriver.Remove', {'Name': 'keep'}), \
        'mount IDs survive a restart'
    ok(p2.sock, 'VolumeDriver.Unmount', {'Name': 'keep', 'ID': 'ctr'})
    ok(p2.sock, 'VolumeDriver.Remove', {'Name': 'keep'})


def test_restart_remounts_dead_and_missing(plugins, policy):
    p = plugins.start()
    create(p, 'dead', policy)
    create(p, 'gone', policy)
    for v in ('dead', 'gone'):
        assert write_tag(p.mnt(v), 'test/example', 'v1', hexdigest('a')) == 0
    p.stop()
    for pid in daemon_pids(p.mnt('dead')):
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: mount_state(p.mnt('dead')) == 'dead', 5, 'the mount to die')
    subprocess.run(['umount', p.mnt('gone')], check=True)

    p2 = plugins.start()
    for v in ('dead', 'gone'):
        wait_for(lambda: mount_state(p2.mnt(v)) == 'live', 15, '%s remounted' % v)
        assert len(taglockfs_mounts(p2.mnt(v))) == 1, 'the stale mount was detached'
        assert read_text(tag_link(p2.mnt(v), 'test/example', 'v1')) == hexdigest('a')
        assert write_tag(p2.mnt(v), 'test/example', 'v1', hexdigest('b')) == errno.EPERM
        # The mount shows before the plugin has seen taglockfs finish
        # starting (it polls the child every 50 ms): allow for that.
        wait_for(lambda: get(p2, v)['Status']['mounted'] is True, 5,
                 '%s reported mounted' % v)


def test_killed_daemon_is_remounted(plugin, policy):
    create(plugin, 'k', policy)
    mnt = plugin.mnt('k')
    assert write_tag(mnt, 'test/example', 'v1', hexdigest('a')) == 0
    (pid,) = daemon_pids(mnt)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: daemon_pids(mnt) and daemon_pids(mnt) != [pid]
             and mount_state(mnt) == 'live', 15, 'the watchdog to remount')
    assert read_text(tag_link(mnt, 'test/example', 'v1')) == hexdigest('a')
    assert write_tag(mnt, 'test/example', 'v1', hexdigest('b')) == errno.EPERM
    assert len(taglockfs_mounts(mnt)) == 1
    assert 'taglockfs process is gone' in plugin.log()


def test_corrupt_state_file_stops_start(plugins, work):
    state = os.path.join(work, 'state')
    os.makedirs(state)
    path = os.path.join(state, 'state.json')
    with open(path, 'w') as f:
        f.write('{"version": 1, "volumes": [')
    p = plugins.new()
    proc = subprocess.run(p.cmd(), capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and 'state.json' in proc.stderr, proc.stderr
    assert read_text(path) == '{"version": 1, "volumes": [', 'the state file is left alone'
    assert not os.path.exists(p.sock)


def test_second_plugin_on_same_socket_refused(plugin):
    proc = subprocess.run(plugin.cmd(), capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and 'already served' in proc.stderr, proc.stderr
    assert ok(plugin.sock, 'VolumeDriver.List') == {'Volumes': []}


def test_state_file_is_atomic_json(plugin, policy, work):
    audit = os.path.join(work, 'a.jsonl')
    create(plugin, 'a', policy, audit_log=audit)
    create(plugin, 'b', policy)
    doc = plugin.state_doc()
    assert doc['version'] == 1
    by = {v['name']: v for v in doc['volumes']}
    assert by['a']['audit_log'] == audit and by['a']['policy'] == policy
    assert 'audit_log' not in by['b']
    leftovers = [n for n in os.listdir(plugin.state) if n not in ('state.json', 'volumes')]
    assert leftovers == []


# ------------------------------------------------------------ CLI

def test_cli(work):
    out = subprocess.run([PLUGIN, '--version'], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith('taglockfs-plugin ')
    out = subprocess.run([PLUGIN, '--help'], capture_output=True, text=True)
    assert out.returncode == 0 and '--default-policy' in out.stdout
    assert '--check-timeout' in out.stdout
    for bad in (['--bogus'], ['--check-timeout', '0'], ['--check-timeout', 'x']):
        out = subprocess.run([PLUGIN] + bad, capture_output=True, text=True)
        assert out.returncode == 2, bad
    out = subprocess.run([PLUGIN, '--taglockfs', '/nonexistent/taglockfs', '--socket',
                          os.path.join(work, 's.sock'), '--state-dir', work],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 1 and '/nonexistent/taglockfs' in out.stderr

