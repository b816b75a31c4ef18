//! A fault-injecting HTTP/1.1 test mirror on 127.0.0.1 that serves a
//! directory: Range requests, keep-alive, and per-path or server-wide faults
//! (error statuses, connection reset mid-body, truncated body, wrong bytes of
//! the right length, stalls, redirects, ignored Range). Every request is
//! logged so tests can check what was asked for (e.g. `Range` headers).
//!
//! Written by hand because the faults it must produce (a TCP reset in the
//! middle of a body, a body shorter than its Content-Length) are exactly
//! what real HTTP server crates are built never to do. One thread per
//! connection; only for tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// A misbehaviour of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (e.g. 404, 500) and a short body.
    Status(u16),
    /// Send the headers and `after` body bytes, then reset the connection (RST).
    ResetMidBody {
        /// Body bytes sent before the reset.
        after: u64,
    },
    /// Send the headers (full Content-Length) and only `after` body bytes,
    /// then close the connection normally.
    Truncate {
        /// Body bytes sent.
        after: u64,
    },
    /// Send the right number of bytes, with one byte in the middle changed.
    WrongBytes,
    /// Send the headers and `after` body bytes, then send nothing for `stall`,
    /// then close.
    Stall {
        /// Body bytes sent before stalling.
        after: u64,
        /// How long to stall.
        stall: Duration,
    },
    /// Redirect with `status` (301, 302, 307…) to `location` (a path on this
    /// server or a full URL).
    Redirect {
        /// 3xx status.
        status: u16,
        /// The Location header.
        location: String,
    },
    /// Serve the whole file with 200 even when a Range is asked for.
    IgnoreRange,
}

/// Which request paths a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    /// Every path.
    Any,
    /// Exactly this path ("/Packages/a.rpm").
    Exact(String),
    /// Paths starting with this prefix.
    Prefix(String),
}

impl PathMatch {
    fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Any => true,
            PathMatch::Exact(p) => p == path,
            PathMatch::Prefix(p) => path.starts_with(p.as_str()),
        }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    matcher: PathMatch,
    fault: Fault,
    remaining: Option<u32>,
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// Serial number of the TCP connection it came on (from 1).
    pub connection: u64,
    /// GET or HEAD.
    pub method: String,
    /// The request target as sent (absolute for requests through a proxy).
    pub target: String,
    /// The decoded path ("/Packages/a b.rpm").
    pub path: String,
    /// The Range header, if any.
    pub range: Option<String>,
    /// The status sent.
    pub status: u16,
    /// Body bytes the server sends (fewer for the cut-short faults; a client
    /// that drops the connection early may receive less).
    pub body_bytes: u64,
    /// The fault applied, if any.
    pub fault: Option<Fault>,
}

struct State {
    root: PathBuf,
    rules: Mutex<Vec<Rule>>,
    log: Mutex<Vec<RequestRecord>>,
    connections: AtomicU64,
    stop: AtomicBool,
}

/// A client connection: plain TCP or TLS over TCP.
trait Conn: Read + Write {
    fn tcp(&self) -> &TcpStream;
}

impl Conn for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Conn for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running test mirror; stopped when dropped.
pub struct FaultServer {
    addr: SocketAddr,
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
    https: bool,
}

impl FaultServer {
    /// Serves `root` over plain HTTP on 127.0.0.1 at a free port.
    pub fn start(root: &Path) -> std::io::Result<FaultServer> {
        FaultServer::spawn(root, None)
    }

    /// Serves `root` over HTTPS on 127.0.0.1 with the PEM certificate chain
    /// and PEM private key given (the URL is then `https://127.0.0.1:PORT/`).
    pub fn start_tls(root: &Path, cert_pem: &[u8], key_pem: &[u8]) -> std::io::Result<FaultServer> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let bad = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
        let certs = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(&e))?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| bad(&e))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(&e))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| bad(&e))?;
        FaultServer::spawn(root, Some(Arc::new(config)))
    }

    fn spawn(root: &Path, tls: Option<Arc<rustls::ServerConfig>>) -> std::io::Result<FaultServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            root: root.to_path_buf(),
            rules: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            connections: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let st = Arc::clone(&state);
        let https = tls.is_some();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let id = st.connections.fetch_add(1, Ordering::SeqCst) + 1;
                let st2 = Arc::clone(&st);
                let tls = tls.clone();
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    let _ = conn.set_nodelay(true);
                    match tls {
                        None => serve_connection(&st2, conn, id),
                        Some(cfg) => {
                            if let Ok(sc) = rustls::ServerConnection::new(cfg) {
                                serve_connection(&st2, rustls::StreamOwned::new(sc, conn), id);
                            }
                        }
                    }
                });
            }
        });
        Ok(FaultServer {
            addr,
            state,
            thread: Some(thread),
            https,
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, with a trailing slash: `http://127.0.0.1:PORT/` (or
    /// `https://…` for a TLS server).
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}/", self.addr)
    }

    /// Applies `fault` to requests matching `path` (every time).
    pub fn add_fault(&self, path: PathMatch, fault: Fault) {
        self.push_rule(path, fault, None);
    }

    /// Applies `fault` to the next `times` matching requests only.
    pub fn add_fault_times(&self, path: PathMatch, fault: Fault, times: u32) {
        self.push_rule(path, fault, Some(times));
    }

    fn push_rule(&self, matcher: PathMatch, fault: Fault, remaining: Option<u32>) {
        lock(&self.state.rules).push(Rule {
            matcher,
            fault,
            remaining,
        });
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        lock(&self.state.rules).clear();
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.state.log).clone()
    }

    /// The requests for one path.
    pub fn requests_for(&self, path: &str) -> Vec<RequestRecord> {
        lock(&self.state.log)
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Number of requests so far.
    pub fn request_count(&self) -> usize {
        lock(&self.state.log).len()
    }

    /// Number of TCP connections accepted so far.
    pub fn connection_count(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        lock(&self.state.log).clear();
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn take_fault(st: &State, path: &str) -> Option<Fault> {
    let mut rules = lock(&st.rules);
    let rule = rules
        .iter_mut()
        .find(|r| r.matcher.matches(path) && r.remaining != Some(0))?;
    if let Some(n) = rule.remaining.as_mut() {
        *n -= 1;
    }
    Some(rule.fault.clone())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses "bytes=N-" or "bytes=N-M" against a length.
fn parse_range(h: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let start: u64 = a.trim().parse().ok()?;
    if start >= len {
        return Some(Err(()));
    }
    let end = if b.trim().is_empty() {
        len - 1
    } else {
        b.trim().parse::<u64>().ok()?.min(len - 1)
    };
    if end < start {
        return Some(Err(()));
    }
    Some(Ok((start, end)))
}

fn serve_connection<C: Conn>(st: &State, conn: C, id: u64) {
    // Clients do not pipeline: the buffer only ever holds one request.
    let mut reader = BufReader::new(conn);
    loop {
        if st.stop.load(Ordering::SeqCst) {
            return;
        }
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut headers = Vec::new();
        loop {
            let mut l = String::new();
            match reader.read_line(&mut l) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let l = l.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let header = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("/").to_string();
        // Absolute-form targets ("GET http://host/path", as sent to a
        // proxy) are served like their path.
        let origin_form = match target.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => target.as_str(),
        };
        let raw_path = origin_form.split(['?', '#']).next().unwrap_or("/");
        let path = percent_decode(raw_path);
        let range = header("range");
        let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let keep = handle(st, reader.get_mut(), id, &method, &target, &path, range);
        if !keep {
            // Just close (a reset, if the fault set SO_LINGER to zero).
            return;
        }
        if close {
            let _ = reader.get_ref().tcp().shutdown(Shutdown::Both);
            return;
        }
        // Drain any request body (none expected for GET/HEAD).
        if let Some(len) = header("content-length").and_then(|v| v.parse::<u64>().ok()) {
            let _ = std::io::copy(&mut (&mut reader).take(len), &mut std::io::sink());
        }
    }
}

/// Serves one request; returns whether the connection may be kept.
fn handle(
    st: &State,
    conn: &mut dyn Conn,
    id: u64,
    method: &str,
    target: &str,
    path: &str,
    range: Option<String>,
) -> bool {
    let mut rec = RequestRecord {
        connection: id,
        method: method.to_string(),
        target: target.to_string(),
        path: path.to_string(),
        range: range.clone(),
        status: 0,
        body_bytes: 0,
        fault: None,
    };
    let fault = take_fault(st, path);
    rec.fault = fault.clone();
    respond(st, conn, method, path, range, fault, &mut rec)
}

/// Records `rec` (before the response goes out, so that a client that has
/// its answer always finds the request in the log).
fn record(st: &State, rec: &RequestRecord) {
    lock(&st.log).push(rec.clone());
}

fn simple(
    st: &State,
    rec: &mut RequestRecord,
    conn: &mut dyn Conn,
    status: u16,
    extra: &str,
    body: &[u8],
    head_only: bool,
) -> bool {
    rec.status = status;
    rec.body_bytes = if head_only { 0 } else { body.len() as u64 };
    record(st, rec);
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n{extra}Connection: keep-alive\r\n\r\n",
        body.len()
    );
    if conn.write_all(head.as_bytes()).is_err() {
        return false;
    }
    if !head_only && conn.write_all(body).is_err() {
        return false;
    }
    conn.flush().is_ok()
}

fn respond(
    st: &State,
    conn: &mut dyn Conn,
    method: &str,
    path: &str,
    range: Option<String>,
    fault: Option<Fault>,
    rec: &mut RequestRecord,
) -> bool {
    let head_only = method == "HEAD";
    if method != "GET" && method != "HEAD" {
        return simple(st, rec, conn, 405, "", b"method not allowed\n", false);
    }
    match &fault {
        Some(Fault::Status(code)) => {
            let body = format!("injected fault {code}\n");
            return simple(st, rec, conn, *code, "", body.as_bytes(), head_only);
        }
        Some(Fault::Redirect { status, location }) => {
            let extra = format!("Location: {location}\r\n");
            return simple(st, rec, conn, *status, &extra, b"", head_only);
        }
        _ => {}
    }
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|s| s == "..") {
        return simple(st, rec, conn, 403, "", b"forbidden\n", head_only);
    }
    let file = st.root.join(rel);
    let data = match std::fs::read(&file) {
        Ok(d) if file.is_file() => d,
        _ => {
            return simple(st, rec, conn, 404, "", b"not found\n", head_only);
        }
    };
    let len = data.len() as u64;
    let use_range = !matches!(fault, Some(Fault::IgnoreRange));
    let (status, start, end) = match range.as_deref().filter(|_| use_range) {
        Some(h) => match parse_range(h, len) {
            Some(Ok((s, e))) => (206, s, e + 1),
            Some(Err(())) => {
                let extra = format!("Content-Range: bytes */{len}\r\n");
                return simple(st, rec, conn, 416, &extra, b"", head_only);
            }
            None => (200, 0, len),
        },
        None => (200, 0, len),
    };
    let mut body = data[start as usize..end as usize].to_vec();
    let mut extra =
        String::from("Accept-Ranges: bytes\r\nContent-Type: application/octet-stream\r\n");
    if status == 206 {
        extra.push_str(&format!(
            "Content-Range: bytes {start}-{}/{len}\r\n",
            end - 1
        ));
    }
    if let Some(Fault::WrongBytes) = fault {
        if !body.is_empty() {
            let mid = body.len() / 2;
            body[mid] ^= 0xff;
        }
    }
    rec.status = status;
    let cut = |after: u64| (after.min(body.len() as u64)) as usize;
    rec.body_bytes = match &fault {
        _ if head_only => 0,
        Some(Fault::ResetMidBody { after })
        | Some(Fault::Truncate { after })
        | Some(Fault::Stall { after, .. }) => cut(*after) as u64,
        _ => body.len() as u64,
    };
    record(st, rec);
    let reason = if status == 206 {
        "Partial Content"
    } else {
        "OK"
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n{extra}Connection: keep-alive\r\n\r\n",
        body.len()
    );
    if conn.write_all(head.as_bytes()).is_err() {
        return false;
    }
    if head_only {
        return conn.flush().is_ok();
    }
    match fault {
        Some(Fault::ResetMidBody { after }) => {
            let n = cut(after);
            let _ = conn.write_all(&body[..n]);
            let _ = conn.flush();
            // Give the client time to read what was sent, then reset.
            std::thread::sleep(Duration::from_millis(50));
            let _ = socket2::SockRef::from(conn.tcp()).set_linger(Some(Duration::ZERO));
            false
        }
        Some(Fault::Truncate { after }) => {
            let n = cut(after);
            let _ = conn.write_all(&body[..n]);
            let _ = conn.flush();
            let _ = conn.tcp().shutdown(Shutdown::Write);
            false
        }
        Some(Fault::Stall { after, stall }) => {
            let n = cut(after);
            let _ = conn.write_all(&body[..n]);
            let _ = conn.flush();
            // Sleep in slices so a stopping server does not wait long.
            let mut left = stall;
            while !left.is_zero() && !st.stop.load(Ordering::SeqCst) {
                let step = left.min(Duration::from_millis(50));
                std::thread::sleep(step);
                left -= step;
            }
            false
        }
        _ => conn.write_all(&body).is_ok() && conn.flush().is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=5-", 10), Some(Ok((5, 9))));
        assert_eq!(parse_range("bytes=2-3", 10), Some(Ok((2, 3))));
        assert_eq!(parse_range("bytes=10-", 10), Some(Err(())));
        assert_eq!(parse_range("items=1-", 10), None);
    }

    #[test]
    fn decode() {
        assert_eq!(percent_decode("/a%20b%23c"), "/a b#c");
        assert_eq!(percent_decode("/a%2"), "/a%2");
    }
}
