"""Debian's nginx as a plain process: its own config, pid, logs and temp paths in a folder."""

import os
import shutil
from pathlib import Path

CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
{user}
events {{
    worker_connections 1024;
}}

http {{
    log_format upstreams '$remote_addr [$time_local] "$request" $status '
                         'upstream=$upstream_addr upstream_status=$upstream_status '
                         'seconds=$request_time "$http_user_agent"';
    access_log {folder}/access.log upstreams;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;

    upstream smartapp {{
        # Round-robin; a server that refuses a connection is left out for a while.
{servers}
    }}

    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 2m;

        location / {{
            proxy_pass http://smartapp;
            # A killed web process: its requests go to the other one. Only requests the dead
            # process never received are retried (nginx never re-sends a POST it had sent).
            proxy_next_upstream error timeout http_502;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-Port $server_port;
        }}
    }}
}}
"""


def binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        raise RuntimeError("nginx is not installed (apt-get install nginx-light; .ci/test does)")
    return found


def command(*, folder: Path, port: int, upstreams: list[int]) -> list[str]:
    """Writes the config and returns the command that runs nginx in the foreground."""
    folder.mkdir(parents=True, exist_ok=True)
    servers = "\n".join(
        f"        server 127.0.0.1:{upstream} max_fails=1 fail_timeout=10s;"
        for upstream in upstreams
    )
    # As root, nginx's workers would drop to www-data, which cannot enter a private temp dir.
    user = "user root;" if os.geteuid() == 0 else ""
    config = folder / "nginx.conf"
    config.write_text(CONFIG.format(folder=folder, port=port, servers=servers, user=user))
    return [binary(), "-p", str(folder), "-c", str(config), "-e", str(folder / "error.log")]
