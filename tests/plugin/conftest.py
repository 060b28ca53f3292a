# SPDX-License-Identifier: MIT
"""pytest fixtures for the taglockfs-plugin tests.

`work` is a short private directory under /tmp (unix socket paths are
limited to 107 bytes). `plugins` starts taglockfs-plugin processes
(plugins.start(args=..., taglockfs=...)); at teardown, also after a
failure, every plugin is stopped and every mount under `work` is detached
(one that cannot be is reported as a failure). On failure the plugin logs are
printed.
"""
import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plugutil  # noqa: E402


def pytest_sessionstart(session):
    for path, what in ((plugutil.PLUGIN, 'TLK_PLUGIN'), (plugutil.TAGLOCKFS, 'TAGLOCKFS')):
        if not os.access(path, os.X_OK):
            pytest.exit('%s=%s is not executable' % (what, path), returncode=1)
    if not os.path.exists('/dev/fuse'):
        pytest.exit('SKIP: /dev/fuse is missing on this machine', returncode=77)
    if os.geteuid() != 0:
        pytest.exit('the plugin tests mount filesystems and run engines: run as root',
                    returncode=1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, 'rep_' + rep.when, rep)


def failed(request):
    rep = getattr(request.node, 'rep_call', None)
    return rep is not None and rep.failed


@pytest.fixture
def work():
    d = tempfile.mkdtemp(prefix='tlkp-', dir='/tmp')
    os.chmod(d, 0o755)
    yield d
    left = plugutil.unmount_under(d)
    if not left:
        shutil.rmtree(d, ignore_errors=True)


class Plugins:
    def __init__(self, work):
        self.work = work
        self.all = []

    def new(self, **kw):
        p = plugutil.Plugin(self.work, **kw)
        self.all.append(p)
        return p

    def start(self, **kw):
        return self.new(**kw).start()

    def close(self):
        for p in self.all:
            p.stop()
        # Volumes a test kept are still mounted: detach them.
        left = plugutil.unmount_under(self.work)
        problems = ['cannot unmount %s' % m for m in left]
        for p in self.all:
            log = p.log()
            for mark in ('Sanitizer', 'runtime error:'):
                if mark in log:
                    problems.append('sanitizer report in the plugin log:\n' + log[-6000:])
        return problems


@pytest.fixture
def plugins(work, request):
    ps = Plugins(work)
    yield ps
    if failed(request):
        for p in ps.all:
            print('==== plugin log (%s)\n%s' % (' '.join(p.cmd()), p.log()[-8000:]))
    problems = ps.close()
    if problems:
        pytest.fail('teardown: ' + '; '.join(problems), pytrace=False)


@pytest.fixture
def policy(work):
    path = os.path.join(work, 'policy.yaml')
    with open(path, 'w') as f:
        f.write(plugutil.POLICY)
    return path


@pytest.fixture
def plugin(plugins):
    return plugins.start()
