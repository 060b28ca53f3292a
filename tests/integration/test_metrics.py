# SPDX-License-Identifier: MIT
"""Metrics an operator alerts on: `-o metrics=ADDR` (GET /metrics over
loopback TCP or a unix socket) and `-o metrics_file=PATH`, scraped with a
real HTTP client after real operations through the mount, a real
registry and the gate. Counters must move by exactly what happened (the
audit log is the witness where the count is not fixed by the test);
every scrape goes through a strict parser of the text format 0.0.4; the
textfile is never seen half-written.
"""
import errno
import hashlib
import os
import re
import socket
import threading
import time
import urllib.request

import pytest

import registry as R
from promtext import CONTENT_TYPE, Scrape, parse
from tlkutil import (digest, expect_errno, push_tag, read, tag_link,
                     write_link_28, write_link_31)

REPO = 'test/example'

POLICY = """\
version: 1
repositories:
  - name: test/example
    immutable: true
"""

# Two entries, so a changed entry count is visible.
POLICY_FIXED = """\
version: 1
repositories:
  - name: test/example
    immutable: true
  - name: team/other
    immutable: false
"""

BROKEN = "version: 1\nrepositories:\n  - name: [test/example\n"

# ----------------------------------------------------------- scraping

def scrape_tcp(addr):
    with urllib.request.urlopen('http://%s/metrics' % addr, timeout=10) as r:
        assert r.status == 200
        assert r.headers['Content-Type'] == CONTENT_TYPE
        return Scrape(r.read().decode('utf-8'))


def http_unix(path, request):
    """One raw HTTP request on a unix socket; (status, headers, body)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(request)
        data = b''
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode().split('\r\n')
    status = int(lines[0].split()[1])
    headers = dict(ln.split(': ', 1) for ln in lines[1:])
    assert int(headers['Content-Length']) == len(body)
    return status, headers, body


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def mount_tcp(tlk, **kw):
    """A mount exporting on a free loopback port (retried if taken)."""
    options = list(kw.pop('options', []))
    for _ in range(5):
        addr = '127.0.0.1:%d' % free_port()
        try:
            m = tlk.mount(options=options + ['metrics=%s' % addr], **kw)
        except AssertionError as e:
            if 'address in use' in str(e):
                continue
            raise
        return m, addr
    raise AssertionError('no free port')


def audit_counts(m):
    """(op, verdict) and refusal reasons from the audit log, named as the
    metrics name them."""
    import json
    decisions, reasons = {}, {}
    if not m.audit.exists():
        return decisions, reasons
    for line in m.audit.read_text().splitlines():
        rec = json.loads(line)
        if rec['decision'] == 'refuse':
            verdict = 'refused'
            reasons[rec['reason']] = reasons.get(rec['reason'], 0) + 1
        else:
            verdict = {'create': 'created',
                       'identical': 'identical'}.get(rec['reason'],
                                                      'allowed')
        key = (rec['op'], verdict)
        decisions[key] = decisions.get(key, 0) + 1
    return decisions, reasons


def assert_matches_audit(m, s):
    """Every decision and refusal the metrics count is one the audit log
    recorded, and back."""
    decisions, reasons = audit_counts(m)
    got = {(dict(k)['op'], dict(k)['verdict']): v
           for k, v in s.series('taglockfs_decisions_total').items() if v}
    assert got == decisions, (got, decisions)
    got = {dict(k)['reason']: v
           for k, v in s.series('taglockfs_refusals_total').items() if v}
    assert got == reasons, (got, reasons)


def daemon_pid(m):
    return m.proc.pid


# -------------------------------------------------------------- tests

D1, D2 = digest('metrics-1'), digest('metrics-2')


def test_refused_overwrite_counted_exactly(tlk):
    m, addr = mount_tcp(tlk, policy=POLICY, audit=True)
    s0 = scrape_tcp(addr)
    assert s0.get('taglockfs_refusals_total', reason='overwrite') == 0
    assert s0.get('taglockfs_decisions_total', op='publish_link',
                  verdict='created') == 0

    push_tag(m.root, REPO, 'v1', D1)
    s1 = scrape_tcp(addr)
    assert s1.get('taglockfs_decisions_total', op='publish_link',
                  verdict='created') == 1
    assert s1.get('taglockfs_refusals_total', reason='overwrite') == 0

    expect_errno(errno.EPERM, write_link_28, tag_link(m.root, REPO, 'v1'),
                 D2)
    assert read(tag_link(m.root, REPO, 'v1')) == D1.encode()
    s2 = scrape_tcp(addr)
    assert s2.get('taglockfs_refusals_total', reason='overwrite') == 1
    assert sum(s2.series('taglockfs_refusals_total').values()) == 1
    assert s2.get('taglockfs_decisions_total', op='write_link',
                  verdict='refused') == 1
    # An identical rewrite (distribution 3.1: a rename over the link) is
    # allowed and counted as such.
    write_link_31(tag_link(m.root, REPO, 'v1'), D1)
    s3 = scrape_tcp(addr)
    assert s3.get('taglockfs_decisions_total', op='publish_link',
                  verdict='identical') == 1
    assert s3.get('taglockfs_refusals_total', reason='overwrite') == 1
    assert_matches_audit(m, s3)
    # The log line an operator would also see.
    assert m.log_text().count('refused write_link of %s:v1' % REPO) == 1


def test_policy_broken_then_fixed(tlk):
    m, addr = mount_tcp(tlk, policy=POLICY)
    s0 = scrape_tcp(addr)
    first_hash, _ = s0.one_label('taglockfs_policy_info', 'sha256')
    assert first_hash == hashlib.sha256(POLICY.encode()).hexdigest()[:16]
    assert s0.get('taglockfs_policy_entries') == 1
    assert s0.get('taglockfs_policy_reloads_total', result='ok') == 0
    assert s0.get('taglockfs_policy_reloads_total', result='failed') == 0
    assert s0.get('taglockfs_policy_reload_failing') == 0

    mark = m.log_mark()
    m.set_policy(BROKEN, how='rename')
    m.wait_log(r'keeping the last good policy', start=mark)
    time.sleep(0.3)  # let a concurrent refresh settle too
    s1 = scrape_tcp(addr)
    assert s1.get('taglockfs_policy_reloads_total', result='failed') == 1
    assert s1.get('taglockfs_policy_reloads_total', result='ok') == 0
    assert s1.get('taglockfs_policy_reload_failing') == 1
    assert s1.one_label('taglockfs_policy_info', 'sha256')[0] == first_hash
    assert s1.get('taglockfs_policy_entries') == 1
    age_broken = s1.get('taglockfs_policy_last_good_load_age_seconds')
    assert age_broken > 0
    # An operation through the mount looks at the file again: no new count.
    os.listdir(m.mnt)
    time.sleep(2.5)  # the watcher's periodic look too
    s2 = scrape_tcp(addr)
    assert s2.get('taglockfs_policy_reloads_total', result='failed') == 1
    assert s2.get('taglockfs_policy_last_good_load_age_seconds') > \
        age_broken + 2

    mark = m.log_mark()
    m.set_policy(POLICY_FIXED, how='rename')
    m.wait_log(r'valid again, loaded', start=mark)
    time.sleep(0.3)
    s3 = scrape_tcp(addr)
    assert s3.get('taglockfs_policy_reloads_total', result='ok') == 1
    assert s3.get('taglockfs_policy_reloads_total', result='failed') == 1
    assert s3.get('taglockfs_policy_reload_failing') == 0
    assert s3.one_label('taglockfs_policy_info', 'sha256')[0] == \
        hashlib.sha256(POLICY_FIXED.encode()).hexdigest()[:16]
    assert s3.get('taglockfs_policy_entries') == 2
    assert s3.get('taglockfs_policy_immutable_entries') == 1
    assert s3.get('taglockfs_policy_last_good_load_age_seconds') < 2


def test_resources_and_latency(tlk):
    m, addr = mount_tcp(tlk, policy=POLICY)
    s0 = scrape_tcp(addr)
    for i in range(20):
        push_tag(m.root, 'team/free', 't%d' % i, digest(i))
    for i in range(20):
        assert read(tag_link(m.root, 'team/free', 't%d' % i)) == \
            digest(i).encode()
    s1 = scrape_tcp(addr)
    pid = daemon_pid(m)
    cached = s1.get('taglockfs_inodes_cached')
    fds = len(os.listdir('/proc/%d/fd' % pid))
    assert cached >= 20 * 3  # each tag: its dirs and links
    # The daemon's own count at scrape time, give or take the connection.
    assert abs(s1.get('taglockfs_open_fds') - fds) <= 3
    # Inodes are kept by file handle on this backing (docs/design.md,
    # "Descriptor ownership"): descriptors do not follow the cache.
    assert s1.get('taglockfs_open_fds') < s1.get('taglockfs_fd_limit')
    with open('/proc/%d/limits' % pid) as f:
        soft = [ln.split()[3] for ln in f if ln.startswith('Max open files')]
    assert s1.get('taglockfs_fd_limit') == float(soft[0])
    for op in ('lookup', 'create', 'write', 'open', 'read'):
        before = s0.get('taglockfs_op_duration_seconds_count', op=op)
        after = s1.get('taglockfs_op_duration_seconds_count', op=op)
        assert after > before, op
        assert s1.get('taglockfs_op_duration_seconds_sum', op=op) > 0, op
    # distribution 3.1's writer renames: 20 renames, 20 lookups at least.
    before = s1.get('taglockfs_op_duration_seconds_count', op='rename')
    for i in range(20):
        push_tag(m.root, 'team/free', 'r%d' % i, digest(i), seq='31')
    s2 = scrape_tcp(addr)
    assert s2.get('taglockfs_op_duration_seconds_count',
                  op='rename') - before == 60
    info = s2.series('taglockfs_build_info')
    (labels, value), = info.items()
    labels = dict(labels)
    assert value == 1 and labels['version'] == '0.1.0'
    assert re.match(r'^3\.\d+\.\d+', labels['libfuse'])
    assert labels['passthrough'] in ('on', 'off')


def test_unix_socket_endpoint(tlk):
    sock = str(tlk.base / 'metrics.sock')
    m = tlk.mount(policy=POLICY, options=['metrics=%s' % sock])
    assert os.stat(sock).st_mode & 0o777 == 0o660
    status, headers, body = http_unix(
        sock, b'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n')
    assert status == 200
    assert headers['Content-Type'] == CONTENT_TYPE
    s = Scrape(body.decode())
    assert s.get('taglockfs_build_info', **dict(
        next(iter(s.series('taglockfs_build_info'))))) == 1
    status, _, body = http_unix(sock, b'GET /other HTTP/1.1\r\n\r\n')
    assert status == 404
    status, _, _ = http_unix(sock, b'POST /metrics HTTP/1.1\r\n'
                                   b'Content-Length: 0\r\n\r\n')
    assert status == 405
    m.unmount()
    assert not os.path.exists(sock), 'socket left behind at exit'


def test_ipv6_loopback_endpoint(tlk):
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(('::1', 0))
        port = s.getsockname()[1]
    m = tlk.mount(policy=POLICY, options=['metrics=[::1]:%d' % port])
    s = scrape_tcp('[::1]:%d' % port)
    assert s.get('taglockfs_policy_entries') == 1
    assert m.alive()


@pytest.mark.parametrize('addr', ['0.0.0.0:9100', '192.0.2.1:9100',
                                  '[::]:9100', 'localhost:9100',
                                  '127.0.0.1:0', '127.0.0.1:x', 'relative'])
def test_non_loopback_or_bad_address_refused(tlk, addr):
    backing, mnt = tlk.tmpdir('b'), tlk.tmpdir('m')
    pol = tlk.write_policy(POLICY)
    r = tlk.run(['-f', '-o', 'policy=%s,metrics=%s' % (pol, addr),
                 backing, mnt])
    assert r.returncode == 1
    err = r.stderr.decode()
    assert 'metrics=%s' % addr in err, err
    if addr in ('0.0.0.0:9100', '192.0.2.1:9100', '[::]:9100'):
        assert 'not a loopback address' in err, err
    else:
        assert 'expected 127.0.0.1:PORT, [::1]:PORT or an absolute unix ' \
            'socket path' in err, err
    assert not any(str(mnt) in ln for ln in open('/proc/self/mountinfo'))


def test_metrics_file_never_half_written(tlk):
    d = tlk.tmpdir('textfile')
    path = d / 'taglockfs.prom'
    m = tlk.mount(policy=POLICY, options=['metrics_file=%s' % path,
                                          'metrics_interval=0.1'])
    assert path.exists(), 'the first text is written before the mount'
    assert path.stat().st_mode & 0o777 == 0o644
    stop = threading.Event()
    errors = []

    def busy():
        # Keeps counters and histograms moving, so texts differ.
        i = 0
        while not stop.is_set():
            try:
                push_tag(m.root, 'team/busy', 't%d' % (i % 50), digest(i))
            except OSError as e:
                errors.append(e)
            i += 1

    t = threading.Thread(target=busy)
    t.start()
    texts = set()
    reads = 0
    deadline = time.monotonic() + 3
    try:
        while time.monotonic() < deadline:
            text = path.read_text()
            reads += 1
            if text not in texts:
                parse(text)  # a cut text fails here
                texts.add(text)
    finally:
        stop.set()
        t.join()
    assert not errors, errors
    assert reads > 100
    assert len(texts) >= 5, 'the file was rewritten %d times' % len(texts)
    # The temporary name is not one the textfile collector reads.
    assert sorted(p.name for p in d.iterdir()
                  if p.name.endswith('.prom')) == ['taglockfs.prom']


def test_metrics_file_bad_directory_refused(tlk):
    backing, mnt = tlk.tmpdir('b'), tlk.tmpdir('m')
    pol = tlk.write_policy(POLICY)
    r = tlk.run(['-f', '-o', 'policy=%s,metrics_file=/nonexistent/x.prom'
                 % pol, backing, mnt])
    assert r.returncode == 1
    assert 'metrics_file=/nonexistent/x.prom: No such file or directory' \
        in r.stderr.decode()


def test_gate_verdicts(tlk):
    sock = str(tlk.base / 'gate.sock')
    m, addr = mount_tcp(tlk, policy=POLICY, options=['gate=%s' % sock])
    s0 = scrape_tcp(addr)
    assert s0.get('taglockfs_gate_verdicts_total', verdict='denied') == 0
    assert s0.get('taglockfs_gate_verdicts_total', verdict='sent_on') == 0
    body1 = b'{"schemaVersion":2,"a":1}'
    body2 = b'{"schemaVersion":2,"a":2}'
    push_tag(m.root, REPO, 'v1', 'sha256:' + hashlib.sha256(body1).hexdigest())

    def put(tag, body):
        req = (b'PUT /v2/%s/manifests/%s HTTP/1.1\r\nHost: x\r\n'
               b'Content-Length: %d\r\n\r\n' % (REPO.encode(), tag.encode(),
                                               len(body))) + body
        return http_unix(sock, req)[0]

    assert put('v1', body2) == 403   # an overwrite
    assert put('v1', body1) == 418   # identical
    assert put('v2', body2) == 418   # a new tag
    s1 = scrape_tcp(addr)
    assert s1.get('taglockfs_gate_verdicts_total', verdict='denied') == 1
    assert s1.get('taglockfs_gate_verdicts_total', verdict='sent_on') == 2
    # The denial is a refusal like the filesystem's.
    assert s1.get('taglockfs_refusals_total', reason='overwrite') == 1


def test_no_gate_series_without_gate(tlk):
    m, addr = mount_tcp(tlk, policy=POLICY)
    assert 'taglockfs_gate_verdicts_total' not in scrape_tcp(addr).types


def test_refused_push_through_registry(tlk, request, tmp_path):
    a = R.mkoci(tmp_path / 'A', 'metrics-image-A', 1, 8)
    b = R.mkoci(tmp_path / 'B', 'metrics-image-B', 1, 8)
    m, addr = mount_tcp(tlk, policy=POLICY, audit=True)
    reg = R.Registry(m.mnt, workdir=tmp_path / 'registry').start()
    request.addfinalizer(reg.stop)
    rc, err = reg.push(tmp_path / 'A', REPO + ':v1')
    assert rc == 0, err
    s1 = scrape_tcp(addr)
    assert s1.get('taglockfs_decisions_total', op='publish_link',
                  verdict='created') == 1
    assert sum(s1.series('taglockfs_refusals_total').values()) == 0
    rc, err = reg.push(tmp_path / 'B', REPO + ':v1')
    assert rc != 0, err
    assert reg.manifest_digest(REPO, 'v1') == a != b
    s2 = scrape_tcp(addr)
    refusals = sum(s2.series('taglockfs_refusals_total').values())
    assert refusals >= 1
    assert_matches_audit(m, s2)
    # The alert expression's input moved: a refusal happened.
    assert refusals > sum(s1.series('taglockfs_refusals_total').values())


def test_trims_and_emfile_counted(tlk):
    """A daemon started with 600 descriptors on a backing without file
    handles (another FUSE mount: it holds a descriptor per cached inode,
    docs/design.md "Descriptor ownership"): a storm makes the trimmer run;
    files held open leave no descriptor for a lookup (EMFILE)."""
    inner = tlk.mount(policy=POLICY)
    backing = inner.mnt / 'stack'   # outside the inner daemon's tree
    backing.mkdir()
    wrapper = tlk.base / 'taglockfs-600'
    wrapper.write_text('#!/bin/sh\nexec prlimit --nofile=600:600 -- %s "$@"\n'
                       % tlk.bin)
    wrapper.chmod(0o755)
    tlk.bin = str(wrapper)
    m, addr = mount_tcp(tlk, policy=POLICY, backing=backing)
    s0 = scrape_tcp(addr)
    assert s0.get('taglockfs_fd_limit') == 600
    assert s0.get('taglockfs_trims_total') == 0
    assert s0.get('taglockfs_emfile_total') == 0
    # 200 tags, 600 inodes: past three quarters of (600 - 256).
    for i in range(200):
        push_tag(m.root, 'team/many', 't%d' % i, digest(i))
    deadline = time.monotonic() + 5
    while scrape_tcp(addr).get('taglockfs_trims_total') == 0:
        assert time.monotonic() < deadline, 'the trimmer never ran'
        time.sleep(0.1)
    s1 = scrape_tcp(addr)
    assert s1.get('taglockfs_trimmed_entries_total') >= 1
    assert s1.get('taglockfs_emfile_total') == 0
    assert 'out of file descriptors' not in m.log_text()

    # Two scrapes connected now: they hold their descriptors while the
    # daemon has none left for anything else.
    c1, c2 = (socket.create_connection(addr.split(':'), timeout=10)
              for _ in range(2))
    team = m.broot / 'repositories' / 'team'
    held, n = [], 0

    def pin_until_emfile():
        nonlocal n
        while True:
            os.makedirs(team / ('pin%d' % n))
            try:
                held.append(os.open(m.root / 'repositories' / 'team' /
                                    ('pin%d' % n), os.O_RDONLY))
            except OSError as e:
                assert e.errno == errno.EMFILE, e
                return
            finally:
                n += 1
            assert n < 2000, 'descriptors never ran out'

    try:
        # Pinned directories until nothing is left, also after the
        # trimmer has dropped whatever it could.
        pin_until_emfile()
        before = -1
        while len(held) != before:
            before = len(held)
            time.sleep(0.5)
            pin_until_emfile()
        s2 = Scrape(raw_get(c1))
        failed = 0
        for i in range(20):
            os.makedirs(team / ('new%d' % i))
            try:
                os.stat(m.root / 'repositories' / 'team' / ('new%d' % i))
            except OSError as e:
                assert e.errno == errno.EMFILE, e
                failed += 1
        assert failed >= 5
        s3 = Scrape(raw_get(c2))
        # One failed lookup per failed stat, no more, no less.
        assert s3.get('taglockfs_emfile_total') - \
            s2.get('taglockfs_emfile_total') == failed
        assert 'out of file descriptors' in m.log_text()
    finally:
        c1.close()
        c2.close()
        for fd in held:
            os.close(fd)


def raw_get(conn):
    conn.sendall(b'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n')
    data = b''
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.1 200 '), head
    return body.decode()


@pytest.mark.parametrize('text', [
    'a 1',                                          # no newline at the end
    'a 1\n',                                        # no TYPE
    '# TYPE a counter\na 1\n',                      # TYPE without HELP
    '# HELP a x\n# TYPE a counter\na{b="c} 1\n',    # unterminated value
    '# HELP a x\n# TYPE a counter\na{b="\\q"} 1\n',  # unknown escape
    '# HELP a x\n# TYPE a counter\na-b 1\n',        # bad name
    '# HELP a x\n# TYPE a counter\na 1\na 2\n',     # series twice
    '# HELP a x\n# TYPE a counter\na one\n',        # bad value
    '# HELP a x\n# TYPE a counter\n# HELP a y\n',   # HELP twice
    '# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 2\n'
    'h_bucket{le="+Inf"} 1\nh_sum 0\nh_count 1\n',  # not cumulative
    '# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 1\n'
    'h_sum 0\nh_count 1\n',                         # no +Inf
    '# HELP h x\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\n'
    'h_sum 0\nh_count 1\n',                         # +Inf != _count
])
def test_parser_is_strict(text):
    """The parser every scrape goes through rejects what it should."""
    with pytest.raises(AssertionError):
        parse(text)
