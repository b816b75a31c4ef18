//! Real nginx as a loopback mirror: serves a directory (e.g. one `jigdo repo create`
//! published) on 127.0.0.1 and a random port, and reports the paths it was asked for.

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
        require_tool("nginx");
        std::fs::create_dir_all(tmp.join("tmp")).expect("mkdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let log = tmp.join("access.log");
        let t = tmp.display();
        let conf = format!(
            "user root;\nworker_processes 1;\nerror_log {t}/error.log;\npid {t}/nginx.pid;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n access_log {log};\n client_body_temp_path {t}/tmp;\n proxy_temp_path {t}/tmp;\n\
             fastcgi_temp_path {t}/tmp;\n uwsgi_temp_path {t}/tmp;\n scgi_temp_path {t}/tmp;\n\
             types {{ application/x-rpm rpm; }}\n\
             server {{ listen 127.0.0.1:{port}; root {root}; location / {{ autoindex on; }} }}\n}}\n",
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
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
