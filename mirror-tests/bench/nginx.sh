# Sourced by the bench scripts: a loopback nginx whose access log records, per request,
# the URI and the body bytes sent (so downloads are counted at the server).
#
#   start_nginx ROOT STATEDIR   serve ROOT on 127.0.0.1; sets NGINX_URL, NGINX_LOG
#   nginx_bytes                 body bytes sent since the log was last cleared
#   nginx_clear_log             empty the access log
#   stop_nginx
start_nginx() {
    local root=$1 state=$2 port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$state/tmp"
    cat > "$state/nginx.conf" <<CONF
user root; worker_processes 1; error_log $state/error.log; pid $state/nginx.pid;
events { worker_connections 64; }
http { log_format b '\$request_uri \$body_bytes_sent'; access_log $state/access.log b;
  client_body_temp_path $state/tmp; proxy_temp_path $state/tmp; fastcgi_temp_path $state/tmp;
  uwsgi_temp_path $state/tmp; scgi_temp_path $state/tmp;
  server { listen 127.0.0.1:$port; root $root; } }
CONF
    nginx -c "$state/nginx.conf" -p "$state"
    NGINX_STATE=$state
    NGINX_LOG=$state/access.log
    NGINX_URL=http://127.0.0.1:$port
    for _ in $(seq 50); do
        curl -s -o /dev/null "$NGINX_URL/" && break
        sleep 0.1
    done
}
nginx_bytes() { awk '{s += $2} END {print s + 0}' "$NGINX_LOG"; }
nginx_clear_log() { : > "$NGINX_LOG"; }
stop_nginx() { [ -z "${NGINX_STATE:-}" ] || kill "$(cat "$NGINX_STATE/nginx.pid" 2>/dev/null)" 2>/dev/null || true; }
