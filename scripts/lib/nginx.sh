# nginx.sh - a private nginx in front of a registry, for scripts/demo.sh
# and scripts/bench.sh: its own config, pid file, logs and temporary
# directories under one work directory (never the system service).
# Source it; it defines:
#
#   nginx_conf WORK LISTEN REGISTRY [GATE_SOCKET]
#       print an nginx.conf for WORK: one server on LISTEN (host:port)
#       proxying /v2/ to REGISTRY (host:port); with GATE_SOCKET, manifest
#       PUTs ask taglockfs's gate first, through the project's two includes
#       (contrib/nginx/), as the README tells an operator.
#   nginx_start WORK LISTEN     start nginx on WORK/nginx.conf, wait for
#                               LISTEN; sets NGINX_PID
#   nginx_stop                  stop it
#
# NGINX_SRC must name the source tree (for contrib/nginx/).

nginx_conf() {
	local work=$1 listen=$2 registry=$3 gate=${4:-} gate_server='' pass
	if [ -n "$gate" ]; then
		gate_server="include $NGINX_SRC/contrib/nginx/taglockfs-gate-server.conf;
        set \$taglockfs_gate \"unix:$gate:\";"
		pass="include $NGINX_SRC/contrib/nginx/taglockfs-gate.conf;"
	else
		pass="proxy_pass http://docker-registry;"
	fi
	mkdir -p "$work/tmp"
	cat <<CONF
daemon off;
user www-data;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 256; }
http {
    access_log $work/access.log;
    client_body_temp_path $work/tmp/body;
    proxy_temp_path $work/tmp/proxy;
    fastcgi_temp_path $work/tmp/fastcgi;
    uwsgi_temp_path $work/tmp/uwsgi;
    scgi_temp_path $work/tmp/scgi;
    upstream docker-registry { server $registry; }
    server {
        listen $listen;
        client_max_body_size 0;
        $gate_server
        location /v2/ {
            $pass
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_read_timeout 900;
        }
    }
}
CONF
}

NGINX_PID=
nginx_start() {
	local work=$1 listen=$2 i
	nginx -t -q -c "$work/nginx.conf" -p "$work" || return 1
	nginx -c "$work/nginx.conf" -p "$work" </dev/null >/dev/null 2>&1 &
	NGINX_PID=$!
	for ((i = 0; i < 100; i++)); do
		curl -fsS -o /dev/null "http://$listen/v2/" 2>/dev/null && return 0
		kill -0 "$NGINX_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

nginx_stop() {
	[ -n "$NGINX_PID" ] || return 0
	kill "$NGINX_PID" 2>/dev/null || true
	wait "$NGINX_PID" 2>/dev/null || true
	NGINX_PID=
}
