# SPDX-License-Identifier: MIT
"""A real nginx in front of the test registry, configured the way the
README tells an operator: the registry's `server {}` with the project's
two shipped includes (contrib/nginx/), on a loopback port, with its own
config, pid file, logs and temporary directories (never the system
service). Optional: auth_basic in `location /v2/`, TLS with a
self-signed certificate."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import registry as R

NGINX_BIN = shutil.which('nginx') or '/usr/sbin/nginx'
CONTRIB = R.SOURCE_ROOT / 'contrib' / 'nginx'

CONF = """\
daemon off;
master_process on;
worker_processes 1;
user {user};
pid {work}/nginx.pid;
error_log {work}/error.log info;
events {{ worker_connections 256; }}
http {{
    log_format upstreams '"$request" $status upstream=$upstream_addr';
    access_log {work}/access.log upstreams;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    upstream docker-registry {{ server {registry}; }}
    server {{
        listen 127.0.0.1:{port}{ssl};
        {tls}
        client_max_body_size 0;
        chunked_transfer_encoding on;
        include {contrib}/taglockfs-gate-server.conf;
        set $taglockfs_gate "unix:{gate}:";
        location /v2/ {{
            {auth}
            include {contrib}/taglockfs-gate.conf;
            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 900;
        }}
    }}
}}
"""


class Nginx:
    """nginx on 127.0.0.1:<port> in front of `registry_host`, asking the
    gate at `gate_sock` for manifest PUTs. auth: (user, password) for
    auth_basic; tls: serve HTTPS with a self-signed certificate."""

    def __init__(self, registry_host, gate_sock, auth=None, tls=False):
        # Workers run as www-data: the directory must be traversable.
        self.work = Path(tempfile.mkdtemp(prefix='tlk-nginx-'))
        os.chmod(self.work, 0o755)
        (self.work / 'tmp').mkdir()
        self.registry_host = registry_host
        self.gate_sock = gate_sock
        self.auth = auth
        self.tls = tls
        self.proc = None
        self.port = None

    @property
    def host(self):
        return '127.0.0.1:%d' % self.port

    @property
    def url(self):
        return '%s://%s' % ('https' if self.tls else 'http', self.host)

    def _auth_conf(self):
        if not self.auth:
            return ''
        user, password = self.auth
        hashed = subprocess.run(['openssl', 'passwd', '-apr1', password],
                                capture_output=True, text=True,
                                check=True).stdout.strip()
        (self.work / 'htpasswd').write_text('%s:%s\n' % (user, hashed))
        os.chmod(self.work / 'htpasswd', 0o644)
        return ('auth_basic "registry"; auth_basic_user_file %s/htpasswd;'
                % self.work)

    def _tls_conf(self):
        if not self.tls:
            return ''
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048',
                        '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
                        '-keyout', str(self.work / 'key.pem'),
                        '-out', str(self.work / 'cert.pem')],
                       capture_output=True, check=True)
        return ('ssl_certificate %s/cert.pem; ssl_certificate_key %s/key.pem;'
                % (self.work, self.work))

    def start(self, timeout=20):
        self.port = R.free_port()
        conf = self.work / 'nginx.conf'
        conf.write_text(CONF.format(
            user='www-data', work=self.work, registry=self.registry_host,
            port=self.port, ssl=' ssl' if self.tls else '',
            tls=self._tls_conf(), contrib=CONTRIB, gate=self.gate_sock,
            auth=self._auth_conf()))
        check = subprocess.run([NGINX_BIN, '-t', '-q', '-c', str(conf),
                                '-p', str(self.work)],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError('nginx -t failed:\n' + check.stderr)
        self.proc = subprocess.Popen(
            [NGINX_BIN, '-c', str(conf), '-p', str(self.work)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(('127.0.0.1', self.port),
                                              timeout=1):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError('nginx did not start:\n' + self.error_log())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)

    def error_log(self):
        try:
            return (self.work / 'error.log').read_text(errors='replace')
        except FileNotFoundError:
            return ''

    def access_log(self):
        try:
            return (self.work / 'access.log').read_text(errors='replace')
        except FileNotFoundError:
            return ''

    def request(self, method, path, headers=None, data=None, timeout=30):
        """(status, headers, body) of one request through nginx."""
        req = urllib.request.Request(self.url + path, method=method,
                                     headers=headers or {}, data=data)
        ctx = None
        if self.tls:
            import ssl
            ctx = ssl._create_unverified_context()
        try:
            with urllib.request.urlopen(req, timeout=timeout,
                                        context=ctx) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()
