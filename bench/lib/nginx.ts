/**
 * nginx for the baselines (Debian's `nginx` + `libnginx-mod-rtmp`), run by the benchmark itself:
 * a generated configuration under bench/out/nginx-<label>/ (the `-p` prefix: pid, logs and temp
 * directories all there, nothing under /etc or /var), `daemon off`, free loopback ports. An HTTP
 * server serves `root` from disk (sendfile, keep-alive, CORS open, playlists `no-cache`); with
 * `rtmp: true` the RTMP module runs an ingest application `live` as well.
 * nginx is the leader of its own process group (master + workers): the group is tracked and killed
 * if the benchmark dies.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { sleep } from "./clock.ts";
import { OUT_DIR, freePort, groupCpuSeconds, spawnGroup, stopGroup, waitForHttp } from "./proc.ts";

export const NGINX_BIN = "/usr/sbin/nginx";
export const RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

export interface NginxOptions {
  label: string;
  /** Directory served over HTTP at `/`. */
  root: string;
  /** Also load the RTMP module and run an RTMP application `live` (ingest). */
  rtmp?: boolean;
  /** worker_processes (default 1). */
  workers?: number;
}

export interface RunningNginx {
  httpUrl: string;
  /** `rtmp://127.0.0.1:<port>/live` when the RTMP module runs. */
  rtmpUrl: string | null;
  pgid: number;
  prefix: string;
  /** CPU seconds of master and workers so far. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** Why nginx cannot run here, or null when the binary (and, if asked for, the RTMP module) are installed. */
export const nginxMissing = (rtmp: boolean): string | null => {
  if (!existsSync(NGINX_BIN)) return `${NGINX_BIN} is missing (Debian: apt-get install nginx)`;
  if (rtmp && !existsSync(RTMP_MODULE)) return `${RTMP_MODULE} is missing (Debian: apt-get install libnginx-mod-rtmp)`;
  return null;
};

const config = (o: { prefix: string; root: string; httpPort: number; rtmpPort: number | null; workers: number }): string => `
${o.rtmpPort !== null ? `load_module ${RTMP_MODULE};` : ""}
daemon off;
master_process on;
worker_processes ${o.workers};
pid ${o.prefix}/nginx.pid;
error_log ${o.prefix}/error.log warn;

events {
  worker_connections 8192;
}
${
  o.rtmpPort !== null
    ? `
rtmp {
  server {
    listen 127.0.0.1:${o.rtmpPort};
    chunk_size 4096;
    application live {
      live on;
      record off;
      wait_key on;
    }
  }
}`
    : ""
}
http {
  access_log off;
  client_body_temp_path ${o.prefix}/tmp/body;
  proxy_temp_path ${o.prefix}/tmp/proxy;
  fastcgi_temp_path ${o.prefix}/tmp/fastcgi;
  uwsgi_temp_path ${o.prefix}/tmp/uwsgi;
  scgi_temp_path ${o.prefix}/tmp/scgi;
  types {
    text/html html;
    application/javascript js;
    application/vnd.apple.mpegurl m3u8;
    video/mp2t ts;
    video/iso.segment m4s;
    video/mp4 mp4;
  }
  default_type application/octet-stream;
  # Debian's defaults for static files.
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  # A benchmark client keeps its connection for the whole run.
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:${o.httpPort};
    root ${o.root};
    location = /healthz {
      return 200 "ok\\n";
    }
    location ~ \\.m3u8$ {
      add_header Cache-Control "no-cache";
      add_header Access-Control-Allow-Origin "*";
    }
    location / {
      add_header Access-Control-Allow-Origin "*";
    }
  }
}
`;

const waitForTcp = async (port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error("nginx exited");
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await sleep(100);
  }
};

export const startNginx = async (o: NginxOptions): Promise<RunningNginx> => {
  const missing = nginxMissing(o.rtmp ?? false);
  if (missing) throw new Error(missing);
  const prefix = path.join(OUT_DIR, `nginx-${o.label}`);
  rmSync(prefix, { recursive: true, force: true });
  mkdirSync(path.join(prefix, "tmp"), { recursive: true });
  mkdirSync(o.root, { recursive: true });
  const httpPort = await freePort();
  const rtmpPort = o.rtmp ? await freePort() : null;
  const conf = path.join(prefix, "nginx.conf");
  writeFileSync(conf, config({ prefix, root: o.root, httpPort, rtmpPort, workers: o.workers ?? 1 }));
  // -e: the error log before the configuration is read (otherwise /var/log/nginx/error.log).
  const child = spawnGroup(NGINX_BIN, ["-p", prefix, "-c", conf, "-e", path.join(prefix, "error.log")], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  try {
    await waitForHttp(`${httpUrl}/healthz`, child, 10_000);
    if (rtmpPort !== null) await waitForTcp(rtmpPort, child);
  } catch (err) {
    await stopGroup(child, "SIGTERM", 2000);
    throw new Error(`nginx did not start (${path.join(prefix, "error.log")}): ${(err as Error).message} ${stderr.trim()}`);
  }
  return {
    httpUrl,
    rtmpUrl: rtmpPort !== null ? `rtmp://127.0.0.1:${rtmpPort}/live` : null,
    pgid: child.pid!,
    prefix,
    cpuSeconds: () => groupCpuSeconds(child.pid!),
    // SIGTERM is nginx's fast shutdown (master and workers); the group gets SIGKILL after the grace period.
    stop: () => stopGroup(child, "SIGTERM", 3000),
  };
};
