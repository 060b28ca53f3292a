# SPDX-License-Identifier: MIT
"""pytest fixtures for the taglockfs integration tests.

`tlk` is a TlkFactory (tlkutil.py): tlk.mount(policy=..., inplace=False,
options=(), backing=None, audit=False) starts the daemon named by
$TAGLOCKFS in the foreground and waits for the mount; every mount is
unmounted at teardown, also when the test failed. tlk.mount_second(m)
mounts the same backing and policy elsewhere (a second replica).
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tlkutil  # noqa: E402


def pytest_sessionstart(session):
    if not os.path.exists('/dev/fuse'):
        # meson reads 77 as "skipped": this machine truly cannot mount FUSE.
        pytest.exit('SKIP: /dev/fuse is missing on this machine', returncode=77)
    b = tlkutil.binary()
    if not b or not os.access(b, os.X_OK):
        pytest.exit('TAGLOCKFS=%r is not an executable daemon; set TAGLOCKFS '
                    'to the built taglockfs' % (b,), returncode=1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, 'rep_' + rep.when, rep)


@pytest.fixture
def tlk(request):
    factory = tlkutil.TlkFactory()
    yield factory
    rep = getattr(request.node, 'rep_call', None)
    if rep is not None and rep.failed:
        for m in factory.mounts:
            print('==== daemon log of %s (%s)' % (m.name, ' '.join(m.cmd)))
            print(m.log_text()[-6000:])
    problems = factory.close()
    if problems:
        pytest.fail('teardown: ' + '\n'.join(problems), pytrace=False)


@pytest.fixture
def m(tlk):
    """One mount with DEFAULT_POLICY (test/example immutable)."""
    return tlk.mount()
