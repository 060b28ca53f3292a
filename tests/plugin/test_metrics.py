# SPDX-License-Identifier: MIT
"""taglockfs-plugin's GET /metrics on its own socket: per-volume series
(up, mounted, restarts, refusals) after real operations on real volumes,
read through the strict text-format parser of the daemon's tests."""
import errno
import os
import signal
import sys

from plugutil import (call, daemon_pids, hexdigest, mount_state, ok, raw,
                      wait_for, write_tag)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'integration'))
from promtext import CONTENT_TYPE, Scrape  # noqa: E402


def create(p, name, policy, **opts):
    opts = dict(opts, policy=policy)
    return ok(p.sock, 'VolumeDriver.Create', {'Name': name, 'Opts': opts})


def scrape(p):
    status, reply = raw(p.sock, b'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n')
    assert status == 200, reply
    head, _, body = reply.partition('\r\n\r\n')
    lines = head.split('\r\n')
    headers = dict(ln.split(': ', 1) for ln in lines[1:])
    assert headers['Content-Type'] == CONTENT_TYPE
    return Scrape(body)


def test_metrics_per_volume(plugin, policy, work):
    s = scrape(plugin)
    assert s.get('taglockfs_plugin_volumes') == 0
    assert s.series('taglockfs_plugin_volume_up') == {}

    create(plugin, 'alpha', policy,
           audit_log=os.path.join(work, 'alpha.jsonl'))
    create(plugin, 'beta', policy)
    mnt = plugin.mnt('alpha')
    assert write_tag(mnt, 'test/example', 'v1', hexdigest('a')) == 0
    assert write_tag(mnt, 'test/example', 'v1', hexdigest('b')) == errno.EPERM
    assert write_tag(mnt, 'test/example', 'v1', hexdigest('c')) == errno.EPERM

    s = scrape(plugin)
    assert s.get('taglockfs_plugin_volumes') == 2
    for vol in ('alpha', 'beta'):
        assert s.get('taglockfs_plugin_volume_up', volume=vol) == 1
        assert s.get('taglockfs_plugin_volume_mounted', volume=vol) == 1
        assert s.get('taglockfs_plugin_volume_restarts_total',
                     volume=vol) == 0
        assert s.get('taglockfs_plugin_volume_audit_readable',
                     volume=vol) == 1
    assert s.get('taglockfs_plugin_volume_refusals_total',
                 volume='alpha') == 2
    assert s.get('taglockfs_plugin_volume_refusals_total',
                 volume='beta') == 0
    # What Get says, the same number.
    st = ok(plugin.sock, 'VolumeDriver.Get', {'Name': 'alpha'})['Volume']
    assert st['Status']['refused_writes'] == 2
    ok(plugin.sock, 'VolumeDriver.Mount', {'Name': 'beta', 'ID': 'c1'})
    assert scrape(plugin).get('taglockfs_plugin_volume_mount_ids',
                              volume='beta') == 1

    # A killed taglockfs: down, then started again by the health check.
    (pid,) = daemon_pids(plugin.mnt('beta'))
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: daemon_pids(plugin.mnt('beta')) not in ([], [pid])
             and mount_state(plugin.mnt('beta')) == 'live', 15,
             'beta to be mounted again')
    wait_for(lambda: scrape(plugin).get(
        'taglockfs_plugin_volume_restarts_total', volume='beta') == 1, 10,
        'the restart to be counted')
    s = scrape(plugin)
    assert s.get('taglockfs_plugin_volume_up', volume='beta') == 1
    assert s.get('taglockfs_plugin_volume_restarts_total',
                 volume='alpha') == 0

    ok(plugin.sock, 'VolumeDriver.Remove', {'Name': 'alpha'})
    s = scrape(plugin)
    assert s.get('taglockfs_plugin_volumes') == 1
    assert ('volume', 'alpha') not in [
        k[0] for k in s.series('taglockfs_plugin_volume_up')]


def test_metrics_takes_get_only(plugin):
    status, doc, _ = call(plugin.sock, 'metrics', {})
    assert status == 405, (status, doc)
    # The protocol's endpoints still take POST only.
    status, _, _ = call(plugin.sock, 'VolumeDriver.List',
                        http_method='GET')
    assert status == 405
