//! Real nginx as a loopback mirror: serves a directory (e.g. one `jigdo repo create`
//! published) on 127.0.0.1 and a random port, and reports the paths it was asked for and
//! the bytes each request cost on the wire.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::require_tool;

/// Real nginx serving a directory on a random loopback port; stopped when dropped.
pub struct Nginx {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Nginx {
    /// Starts nginx serving `root`, with its configuration, logs and temporary files in
    /// `tmp`; returns once it accepts connections.
    pub fn start(root: &Path, tmp: &Path) -> Nginx {
        Nginx::start_with(root, tmp, "")
    }

    /// [`Nginx::start`] with `extra` added to the `server` block (e.g.
    /// `location = /Packages/a.rpm { limit_rate 100k; }`).
    pub fn start_with(root: &Path, tmp: &Path, extra: &str) -> Nginx {
        require_tool("nginx");
        std::fs::create_dir_all(tmp.join("tmp")).expect("mkdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let log = tmp.join("access.log");
        let t = tmp.display();
        // One process (no master and worker): dropping the `Nginx` kills the process
        // that serves, where killing a master left its worker serving, orphaned.
        let conf = format!(
            "master_process off;\nuser root;\nworker_processes 1;\nerror_log {t}/error.log;\npid {t}/nginx.pid;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n log_format wire '$remote_addr - $remote_user [$time_local] \"$request\" \
             $status $bytes_sent $request_length \"$http_referer\" \"$http_user_agent\"';\n\
             access_log {log} wire;\n client_body_temp_path {t}/tmp;\n proxy_temp_path {t}/tmp;\n\
             fastcgi_temp_path {t}/tmp;\n uwsgi_temp_path {t}/tmp;\n scgi_temp_path {t}/tmp;\n\
             types {{ application/x-rpm rpm; }}\n\
             server {{ listen 127.0.0.1:{port}; root {root}; location / {{ autoindex on; }} {extra} }}\n}}\n",
            log = log.display(),
            root = root.display()
        );
        let cpath = tmp.join("nginx.conf");
        std::fs::write(&cpath, conf).expect("write conf");
        let child = Command::new("nginx")
            .arg("-c")
            .arg(&cpath)
            .arg("-p")
            .arg(tmp)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "nginx did not start; see {}/error.log",
                t
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx { child, port, log }
    }
    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
    /// Requested paths so far (from the access log).
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split('"').nth(1))
            .filter_map(|r| r.split_whitespace().nth(1).map(str::to_string))
            .collect()
    }

    /// The access log once `done` accepts it (waiting up to 10 s, then as it is): nginx
    /// writes a request's line after the response was sent, so a client can have the
    /// response before the line is there.
    pub fn log_once(&self, done: impl Fn(&[LoggedRequest]) -> bool) -> Vec<LoggedRequest> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let log = self.log();
            if done(&log) || std::time::Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// How many requests the access log holds once it stopped growing (two reads 50 ms
    /// apart agree): the point to count a client's next requests from, when lines of the
    /// requests before it may still be on their way (see [`Nginx::log_once`]).
    pub fn settled_log_len(&self) -> usize {
        let mut len = self.log().len();
        loop {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let now = self.log().len();
            if now == len {
                return len;
            }
            len = now;
        }
    }

    /// Every request so far, from the access log, in order.
    pub fn log(&self) -> Vec<LoggedRequest> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut parts = l.split('"');
                let request = parts.nth(1)?;
                let mut nums = parts.next()?.split_whitespace().map(str::parse::<u64>);
                Some(LoggedRequest {
                    path: request.split_whitespace().nth(1)?.to_string(),
                    status: nums.next()?.ok()?,
                    bytes_sent: nums.next()?.ok()?,
                    request_length: nums.next()?.ok()?,
                })
            })
            .collect()
    }
}

/// One request of nginx's access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// The path asked for.
    pub path: String,
    /// The response status.
    pub status: u64,
    /// Bytes sent to the client (headers and body).
    pub bytes_sent: u64,
    /// Bytes of the request (line, headers and body).
    pub request_length: u64,
}

impl LoggedRequest {
    /// Bytes on the wire both ways (above TCP).
    pub fn wire_bytes(&self) -> u64 {
        self.bytes_sent + self.request_length
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
