//! End-to-end performance harness (issue 8): Countersign beside a plain
//! nginx reverse proxy, in one run, on one machine.
//!
//! ```sh
//! export CARGO_TARGET_DIR=/work/target-perf      # optional
//! cargo run --release -p countersign-benches --bin e2e_harness            # full run, writes docs/PERFORMANCE.md
//! cargo run --release -p countersign-benches --bin e2e_harness -- --quick # smoke check, < 60 s
//! ```
//!
//! One run:
//! 1. installs nginx and its echo module from Debian if missing (`apt-get`, as root);
//! 2. builds (or reuses) the `countersign` binary of the same profile as the harness;
//! 3. starts an upstream nginx on loopback that stands in for AWS: it reads
//!    every request body completely (`echo_read_request_body`, like S3 does
//!    before it answers a PUT), then answers any method and path with a fixed
//!    1 KiB body, keep-alive;
//! 4. per scenario and proxy, starts a fresh proxy pointing at it —
//!    Countersign (`endpoint_override`, static upstream keys, a static
//!    principal with an evaluated allow-all policy, audit sink `none`) or a
//!    baseline nginx (`proxy_pass`, upstream keep-alive, request streaming) —
//!    and drives it with the same load generator: a pool of distinct
//!    SigV4-signed requests (signed just before the scenario, so fresh within
//!    the skew window), HTTP/1.1 keep-alive connections;
//! 5. pins the proxy under test to one core and the generator plus the
//!    upstream to the others (`taskset`) when the machine has two cores or more;
//! 6. prints one table (requests/s, latency percentiles, CPU seconds per 1,000
//!    requests from `/proc/PID/stat`, peak RSS from `/proc/PID/status`, the
//!    ratio Countersign/nginx) and the targets of issue 8, and in a full run
//!    writes it to `docs/PERFORMANCE.md` between generated-section markers.
//!
//! Every loop is bounded in count and time; nginx and Countersign are stopped
//! on exit, on error and on SIGINT/SIGTERM. Only 127.0.0.1 is used.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use countersign_sigv4::{PathMode, RequestView, Signer, SigningParams};

type Error = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, Error>;

macro_rules! bail {
    ($($t:tt)*) => { return Err(format!($($t)*).into()) };
}

/// The gateway credential of the benchmark principal.
const ACCESS_KEY_ID: &str = "AKCSBENCH0000000001";
const SECRET_ACCESS_KEY: &str = "bench-secret-0123456789abcdefghij";
const REGION: &str = "us-east-1";
const BUCKET: &str = "bench-bucket";
/// The upstream answer: a fixed 1 KiB body.
const RESPONSE_BYTES: usize = 1024;
const CONNECTIONS: usize = 64;
const GET_POOL: usize = 4096;
const PUT_POOL: usize = 256;
const PUT_BODIES: usize = 8;
const MIB: usize = 1 << 20;
const IDLE_CONNECTIONS: usize = 1000;

// ---------------------------------------------------------------- arguments

#[derive(Debug, Default)]
struct Args {
    quick: bool,
    countersign: Option<PathBuf>,
    out: Option<PathBuf>,
    no_write: bool,
    only: Option<Vec<u8>>,
    nice: Option<i32>,
}

const USAGE: &str = "usage: e2e_harness [--quick] [--countersign PATH] [--out FILE | --no-write] [--only 1,2,...]

  --quick            smoke check: short windows, a 64 MiB instead of 1 GiB upload (< 60 s); writes no file
  --countersign PATH the countersign binary (default: $COUNTERSIGN_BIN, else built with cargo
                     in the harness's own profile and target directory)
  --out FILE         write the report here (default for a full run: docs/PERFORMANCE.md)
  --no-write         print only
  --only LIST        run only these scenarios (1-6)
  --nice N           run the harness, nginx and countersign at this nice value (e.g. -10 on a
                     machine shared with other work; negative values need root)";

fn parse_args() -> Res<Args> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => args.quick = true,
            "--no-write" => args.no_write = true,
            "--countersign" => args.countersign = Some(it.next().ok_or(USAGE)?.into()),
            "--out" => args.out = Some(it.next().ok_or(USAGE)?.into()),
            "--only" => {
                let list = it.next().ok_or(USAGE)?;
                let mut only = Vec::new();
                for s in list.split(',') {
                    match s.trim().parse::<u8>() {
                        Ok(n @ 1..=6) => only.push(n),
                        _ => bail!("--only: {s:?} is not a scenario (1-6)\n{USAGE}"),
                    }
                }
                args.only = Some(only);
            }
            "--nice" => {
                let n = it.next().ok_or(USAGE)?;
                args.nice = Some(
                    n.parse()
                        .map_err(|_| format!("--nice: {n:?} is not a number"))?,
                );
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    Ok(args)
}

// ------------------------------------------------------- process management

/// Root pids of every process the harness started and has not yet stopped,
/// so a signal handler can stop them.
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());
/// Scratch directories to remove on a signal.
static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn send_signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn alive(pid: u32) -> bool {
    // A zombie is dead for our purposes.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => stat_fields(&s).and_then(|f| f.first().copied()) != Some("Z"),
        Err(_) => false,
    }
}

/// The fields of `/proc/PID/stat` after the `(comm)`, starting at `state`.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().collect())
}

/// Direct children of `pid` (nginx workers), found by scanning `/proc`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) {
            let ppid = stat_fields(&stat).and_then(|f| f.get(1).and_then(|p| p.parse().ok()));
            if ppid == Some(pid) {
                out.push(child);
            }
        }
    }
    out
}

/// A process and its direct children.
fn group(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    pids.extend(children_of(pid));
    pids
}

/// Stops a process tree: SIGTERM, up to 3 s of grace, then SIGKILL.
fn terminate_tree(pid: u32) {
    let pids = group(pid);
    send_signal(pid, "-TERM");
    for _ in 0..60 {
        if !pids.iter().any(|p| alive(*p)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for p in pids {
        if alive(p) {
            send_signal(p, "-KILL");
        }
    }
}

fn kill_everything() {
    let pids: Vec<u32> = LIVE.lock().map(|l| l.clone()).unwrap_or_default();
    for pid in pids {
        terminate_tree(pid);
    }
    let dirs: Vec<PathBuf> = DIRS.lock().map(|l| l.clone()).unwrap_or_default();
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// A child process stopped when dropped (SIGTERM, then SIGKILL of it and its
/// children).
struct Managed {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Managed {
    fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Res<Self> {
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        if let Ok(mut l) = LIVE.lock() {
            l.push(child.id());
        }
        Ok(Self {
            name: name.to_owned(),
            child,
            log,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails with the end of its log when the process has exited.
    fn check(&mut self) -> Res<()> {
        if let Ok(Some(status)) = self.child.try_wait() {
            bail!(
                "{} exited ({status}); end of {}:\n{}",
                self.name,
                self.log.display(),
                tail(&self.log, 20)
            );
        }
        Ok(())
    }

    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            terminate_tree(self.child.id());
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        if let Ok(mut l) = LIVE.lock() {
            l.retain(|p| *p != self.child.id());
        }
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        self.stop();
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A scratch directory removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(path: PathBuf) -> Res<Self> {
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)?;
        if let Ok(mut d) = DIRS.lock() {
            d.push(path.clone());
        }
        Ok(Self(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_checked(cmd: &mut Command, what: &str) -> Res<String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

// ------------------------------------------------------------ /proc readers

fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of one process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some(f) = stat_fields(&stat) else {
        return 0;
    };
    // After the comm: state(0) ppid(1) ... utime is field 14 → index 11.
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

fn group_cpu_ticks(pid: u32) -> u64 {
    group(pid).into_iter().map(cpu_ticks).sum()
}

/// A `Vm*:` line of `/proc/PID/status`, in KiB.
fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn group_rss_kib(pid: u32) -> u64 {
    group(pid)
        .into_iter()
        .map(|p| status_kib(p, "VmRSS:"))
        .sum()
}

/// Samples the summed RSS of a process group every `every` until stopped;
/// yields the maximum seen, in KiB.
struct RssSampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<u64>,
}

impl RssSampler {
    fn start(pid: u32, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut max = group_rss_kib(pid);
            // Bounded: at most one hour of samples.
            for _ in 0..(3_600_000 / every.as_millis().max(1) as u64) {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                tokio::time::sleep(every).await;
                max = max.max(group_rss_kib(pid));
            }
            max
        });
        Self { stop, task }
    }

    async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or(0)
    }
}

// ---------------------------------------------------------- machine and cpus

/// CPUs this process may run on (`Cpus_allowed_list`).
fn allowed_cpus() -> Vec<usize> {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let list = text
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or("")
        .trim()
        .to_owned();
    let cpus = parse_cpu_list(&list);
    if cpus.is_empty() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        (0..n).collect()
    } else {
        cpus
    }
}

fn parse_cpu_list(list: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    out.extend(a..=b.min(a + 4096));
                }
            }
            None => out.extend(part.parse::<usize>().ok()),
        }
    }
    out
}

fn cpu_list_string(cpus: &[usize]) -> String {
    cpus.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Where things run: the proxy under test alone on one core, the generator
/// and the upstream on the rest.
#[derive(Clone, Debug)]
struct Pinning {
    proxy: Option<String>,
    generator: Option<String>,
}

impl Pinning {
    fn plan() -> Self {
        let cpus = allowed_cpus();
        let taskset = Command::new("taskset")
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if cpus.len() < 2 || !taskset {
            return Self {
                proxy: None,
                generator: None,
            };
        }
        let (proxy, rest) = cpus.split_last().unwrap_or((&0, &[]));
        Self {
            proxy: Some(proxy.to_string()),
            generator: Some(cpu_list_string(rest)),
        }
    }

    fn describe(&self) -> String {
        match (&self.proxy, &self.generator) {
            (Some(p), Some(g)) => format!(
                "proxy under test pinned to CPU {p}; load generator and upstream nginx to CPU {g} (taskset)"
            ),
            _ => "no pinning (fewer than 2 CPUs or no taskset): generator and proxy share the CPUs".to_owned(),
        }
    }

    /// Pins this process (every thread) to the generator CPUs.
    fn pin_self(&self) -> Res<()> {
        if let Some(g) = &self.generator {
            run_checked(
                Command::new("taskset").args([
                    "-a",
                    "-p",
                    "-c",
                    g,
                    &std::process::id().to_string(),
                ]),
                "taskset (pin the generator)",
            )?;
        }
        Ok(())
    }

    fn command(cpus: &Option<String>, program: &Path) -> Command {
        match cpus {
            Some(c) => {
                let mut cmd = Command::new("taskset");
                cmd.args(["-c", c]).arg(program);
                cmd
            }
            None => Command::new(program),
        }
    }
}

struct Machine {
    description: String,
}

fn first_line_of(cmd: &mut Command) -> String {
    cmd.output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        })
        .unwrap_or_default()
}

fn describe_machine(nginx: &Path, countersign: &Path, pinning: &Pinning) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let sha_ni = cpuinfo.contains(" sha_ni");
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpus = allowed_cpus();
    let nginx_v = first_line_of(Command::new(nginx).arg("-v"));
    let rustc = first_line_of(Command::new("rustc").arg("-V"));
    let commit = first_line_of(Command::new("git").args(["rev-parse", "--short", "HEAD"]));
    let profile = if countersign.components().any(|c| c.as_os_str() == "release") {
        "release"
    } else {
        "debug (NOT representative)"
    };
    let description = format!(
        "- CPU: {model}, {} CPUs usable ({}), SHA extensions: {}\n\
         - memory: {mem_gib:.1} GiB; kernel {}\n\
         - {nginx_v}; {rustc}; countersign build: {profile}; commit {commit}\n\
         - {}",
        cpus.len(),
        cpu_list_string(&cpus),
        if sha_ni { "yes" } else { "no" },
        kernel.trim(),
        pinning.describe()
    );
    Machine { description }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

// ------------------------------------------------------------------- nginx

struct Nginx {
    binary: PathBuf,
    /// `load_module` line for the echo module, or empty when built in.
    load_echo: String,
}

fn find_nginx() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn echo_module(nginx: &Path) -> Option<String> {
    let v = Command::new(nginx).arg("-V").output().ok()?;
    let text = String::from_utf8_lossy(&v.stderr).into_owned();
    if text.contains("echo-nginx-module") && !text.contains("=dynamic") {
        return Some(String::new());
    }
    let modules = text
        .split_whitespace()
        .find_map(|a| a.strip_prefix("--modules-path="))
        .unwrap_or("/usr/lib/nginx/modules")
        .to_owned();
    let so = Path::new(&modules).join("ngx_http_echo_module.so");
    so.exists()
        .then(|| format!("load_module {};", so.display()))
}

/// nginx and its echo module, installed from Debian when missing.
fn ensure_nginx() -> Res<Nginx> {
    if let Some(binary) = find_nginx() {
        if let Some(load_echo) = echo_module(&binary) {
            return Ok(Nginx { binary, load_echo });
        }
    }
    println!("== installing nginx and libnginx-mod-http-echo with apt-get");
    run_checked(
        Command::new("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"),
        "apt-get update",
    )?;
    run_checked(
        Command::new("apt-get")
            .args(["install", "-y", "nginx", "libnginx-mod-http-echo"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
        "apt-get install nginx libnginx-mod-http-echo (run as root)",
    )?;
    let binary = find_nginx().ok_or("nginx not found after apt-get install")?;
    let load_echo = echo_module(&binary).ok_or("the nginx echo module is missing")?;
    Ok(Nginx { binary, load_echo })
}

fn nginx_main_conf(name: &str, dir: &Path, load: &str) -> String {
    let d = dir.display();
    format!(
        "{load}
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 16384;
pid {d}/{name}.pid;
error_log {d}/{name}-error.log warn;
events {{ worker_connections 8192; multi_accept on; }}
"
    )
}

fn nginx_http_common(name: &str, dir: &Path, body_temp: &Path) -> String {
    let d = dir.display();
    format!(
        "  access_log off;
  keepalive_timeout 300s;
  keepalive_requests 100000000;
  client_max_body_size 0;
  client_body_temp_path {body}/{name}-body;
  proxy_temp_path {d}/{name}-proxy;
  fastcgi_temp_path {d}/{name}-fastcgi;
  uwsgi_temp_path {d}/{name}-uwsgi;
  scgi_temp_path {d}/{name}-scgi;
",
        body = body_temp.display()
    )
}

/// The stand-in for AWS: reads each body completely (in memory up to 2 MiB,
/// then a temporary file in `body_temp`, tmpfs when available), then
/// answers 200 with a fixed 1 KiB body.
fn upstream_conf(port: u16, dir: &Path, body_temp: &Path, nginx: &Nginx) -> String {
    let body = "a".repeat(RESPONSE_BYTES);
    format!(
        "{main}http {{
{common}  client_body_buffer_size 2m;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{
      echo_read_request_body;
      echo_exec @answer;
    }}
    location @answer {{
      default_type application/octet-stream;
      return 200 \"{body}\";
    }}
  }}
}}
",
        main = nginx_main_conf("upstream", dir, &nginx.load_echo),
        common = nginx_http_common("upstream", dir, body_temp),
    )
}

/// The baseline: a reverse proxy that does no security work.
fn nginx_proxy_conf(
    port: u16,
    upstream: u16,
    dir: &Path,
    body_temp: &Path,
    tls: Option<&Certs>,
) -> String {
    let (ssl, certs) = match tls {
        Some(c) => (
            " ssl",
            format!(
                "    ssl_certificate {};\n    ssl_certificate_key {};\n",
                c.cert.display(),
                c.key.display()
            ),
        ),
        None => ("", String::new()),
    };
    format!(
        "{main}http {{
{common}  upstream origin {{
    server 127.0.0.1:{upstream};
    keepalive 256;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
  }}
  server {{
    listen 127.0.0.1:{port}{ssl} backlog=4096;
{certs}    location / {{
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_request_buffering off;
    }}
  }}
}}
",
        main = nginx_main_conf("proxy", dir, ""),
        common = nginx_http_common("proxy", dir, body_temp),
    )
}

fn countersign_conf(port: u16, admin: u16, upstream: u16, tls: Option<&Certs>) -> String {
    let tls = match tls {
        Some(c) => format!(
            "tls = {{ cert = \"{}\", key = \"{}\" }}\n",
            c.cert.display(),
            c.key.display()
        ),
        None => String::new(),
    };
    format!(
        r#"[server]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:{admin}"
{tls}
[upstream]
endpoint_override = "http://127.0.0.1:{upstream}"
access_key_id = "AKIDUPSTREAMBENCH001"
secret_access_key = "upstream-secret-used-only-by-the-bench"

[[principal]]
name = "bench"
access_keys = [{{ id = "{ACCESS_KEY_ID}", secret = "{SECRET_ACCESS_KEY}" }}]
policies = ["allow-all"]

[policy.allow-all]
document = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}}]}}'''

[audit]
sink = "none"

[limits]
shutdown_grace_secs = 1
"#
    )
}

// -------------------------------------------------------------- TLS material

struct Certs {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// A throwaway CA and a leaf for 127.0.0.1 / localhost, with the openssl CLI.
fn make_certs(dir: &Path) -> Res<Certs> {
    let p = |n: &str| dir.join(n);
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run_checked(
        Command::new("openssl")
            .args(["req", "-x509"])
            .args(ec)
            .arg("-keyout")
            .arg(p("ca.key"))
            .arg("-out")
            .arg(p("ca.pem"))
            .args(["-days", "2", "-subj", "/CN=countersign bench CA"]),
        "openssl (CA)",
    )?;
    run_checked(
        Command::new("openssl")
            .arg("req")
            .args(ec)
            .arg("-keyout")
            .arg(p("key.pem"))
            .arg("-out")
            .arg(p("leaf.csr"))
            .args(["-subj", "/CN=localhost"]),
        "openssl (leaf request)",
    )?;
    std::fs::write(
        p("leaf.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )?;
    run_checked(
        Command::new("openssl")
            .args(["x509", "-req", "-in"])
            .arg(p("leaf.csr"))
            .arg("-CA")
            .arg(p("ca.pem"))
            .arg("-CAkey")
            .arg(p("ca.key"))
            .args(["-CAcreateserial", "-days", "2", "-out"])
            .arg(p("cert.pem"))
            .arg("-extfile")
            .arg(p("leaf.ext")),
        "openssl (leaf)",
    )?;
    Ok(Certs {
        ca: p("ca.pem"),
        cert: p("cert.pem"),
        key: p("key.pem"),
    })
}

fn tls_connector(ca: &Path) -> Res<tokio_rustls::TlsConnector> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)? {
        roots.add(cert?)?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

// ----------------------------------------------------------- proxies to test

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Nginx,
    Countersign,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx",
            Kind::Countersign => "countersign",
        }
    }
}

/// Everything a scenario needs.
struct Env {
    dir: PathBuf,
    body_temp: PathBuf,
    nginx: Nginx,
    countersign: PathBuf,
    upstream_port: u16,
    certs: Certs,
    tls: tokio_rustls::TlsConnector,
    pinning: Pinning,
    ticks: f64,
    quick: bool,
    signer: Signer,
}

struct Proxy {
    kind: Kind,
    process: Managed,
    addr: SocketAddr,
    tls: bool,
}

impl Proxy {
    fn host(&self) -> String {
        self.addr.to_string()
    }

    fn target(&self, env: &Env) -> Target {
        Target {
            addr: self.addr,
            tls: self.tls.then(|| env.tls.clone()),
        }
    }
}

fn free_port() -> Res<u16> {
    Ok(StdListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn wait_listening(process: &mut Managed, addr: SocketAddr) -> Res<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        process.check()?;
        if TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} did not listen on {addr} within 30 s; end of its log:\n{}",
                process.name,
                tail(&process.log, 20)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn start_upstream(
    env_dir: &Path,
    body_temp: &Path,
    nginx: &Nginx,
    pinning: &Pinning,
) -> Res<(Managed, u16)> {
    let port = free_port()?;
    let conf = env_dir.join("upstream.conf");
    std::fs::write(&conf, upstream_conf(port, env_dir, body_temp, nginx))?;
    let mut cmd = Pinning::command(&pinning.generator, &nginx.binary);
    cmd.arg("-p")
        .arg(env_dir)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(env_dir.join("upstream-start.log"));
    let mut process = Managed::spawn("upstream nginx", cmd, env_dir.join("upstream.log"))?;
    wait_listening(&mut process, SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    Ok((process, port))
}

async fn start_proxy(env: &Env, kind: Kind, tls: bool) -> Res<Proxy> {
    let port = free_port()?;
    let certs = tls.then_some(&env.certs);
    let (name, cmd) = match kind {
        Kind::Nginx => {
            let conf = env.dir.join("proxy.conf");
            std::fs::write(
                &conf,
                nginx_proxy_conf(port, env.upstream_port, &env.dir, &env.body_temp, certs),
            )?;
            let mut cmd = Pinning::command(&env.pinning.proxy, &env.nginx.binary);
            cmd.arg("-p")
                .arg(&env.dir)
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(env.dir.join("proxy-start.log"));
            ("nginx proxy", cmd)
        }
        Kind::Countersign => {
            let conf = env.dir.join("countersign.toml");
            let admin = free_port()?;
            std::fs::write(
                &conf,
                countersign_conf(port, admin, env.upstream_port, certs),
            )?;
            let mut cmd = Pinning::command(&env.pinning.proxy, &env.countersign);
            cmd.args(["serve", "--config"]).arg(&conf);
            cmd.env("RUST_LOG", "warn");
            ("countersign", cmd)
        }
    };
    let log = env.dir.join(format!("{}.log", kind.name()));
    let mut process = Managed::spawn(name, cmd, log)?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    wait_listening(&mut process, addr).await?;
    Ok(Proxy {
        kind,
        process,
        addr,
        tls,
    })
}

// ------------------------------------------------------------ signed requests

/// One pre-signed request.
struct Template {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

type ReqBody = BoxBody<Bytes, Infallible>;

impl Template {
    fn request(&self) -> Request<ReqBody> {
        let mut req = Request::new(Full::new(self.body.clone()).boxed());
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }
}

/// Signs an S3 request for `host` with the bench principal's key, now.
fn sign(
    signer: &Signer,
    method: &str,
    path: &str,
    host: &str,
    payload_hash: &str,
) -> Res<HeaderMap> {
    let headers: [(&str, &[u8]); 2] = [
        ("host", host.as_bytes()),
        ("x-amz-content-sha256", payload_hash.as_bytes()),
    ];
    let view = RequestView {
        method,
        path,
        query: "",
        headers: &headers,
        authority: None,
        body_sha256: None,
    };
    let params = SigningParams {
        access_key_id: ACCESS_KEY_ID,
        secret_access_key: SECRET_ACCESS_KEY,
        session_token: None,
        region: REGION,
        service: "s3",
        time: SystemTime::now(),
    };
    let out = signer.sign(&view, payload_hash, PathMode::for_service("s3"), &params);
    let mut map = HeaderMap::with_capacity(8);
    map.insert(http::header::HOST, HeaderValue::from_str(host)?);
    map.insert(
        HeaderName::from_static("x-amz-content-sha256"),
        HeaderValue::from_str(payload_hash)?,
    );
    map.insert(
        HeaderName::from_static("x-amz-date"),
        HeaderValue::from_str(&out.x_amz_date)?,
    );
    map.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&out.authorization)?,
    );
    map.insert(
        http::header::USER_AGENT,
        HeaderValue::from_static("countersign-e2e-harness"),
    );
    Ok(map)
}

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// `n` distinct GetObject requests.
fn get_pool(signer: &Signer, host: &str, n: usize) -> Res<Arc<Vec<Template>>> {
    let mut pool = Vec::with_capacity(n);
    for i in 0..n {
        let path = format!("/{BUCKET}/objects/{i:06}.bin");
        let headers = sign(signer, "GET", &path, host, EMPTY_SHA256)?;
        pool.push(Template {
            method: Method::GET,
            uri: path.parse()?,
            headers,
            body: Bytes::new(),
        });
    }
    Ok(Arc::new(pool))
}

/// `n` distinct PutObject requests cycling over `bodies`, each signed with
/// its hex payload hash.
fn put_pool(
    signer: &Signer,
    host: &str,
    bodies: &[(Bytes, String)],
    n: usize,
) -> Res<Arc<Vec<Template>>> {
    let mut pool = Vec::with_capacity(n);
    for i in 0..n {
        let (body, hash) = &bodies[i % bodies.len()];
        let path = format!("/{BUCKET}/uploads/{i:06}.bin");
        let mut headers = sign(signer, "PUT", &path, host, hash)?;
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        pool.push(Template {
            method: Method::PUT,
            uri: path.parse()?,
            headers,
            body: body.clone(),
        });
    }
    Ok(Arc::new(pool))
}

/// Deterministic incompressible-looking bytes (xorshift64).
fn pseudo_random(len: usize, seed: u64) -> Bytes {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

fn put_bodies() -> Vec<(Bytes, String)> {
    (0..PUT_BODIES)
        .map(|i| {
            let body = pseudo_random(MIB, i as u64 + 1);
            let hash = hex::encode(Sha256::digest(&body));
            (body, hash)
        })
        .collect()
}

// ---------------------------------------------------------- load generator

#[derive(Clone)]
struct Target {
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsConnector>,
}

async fn handshake<I>(io: I) -> Res<SendRequest<ReqBody>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn connect(target: &Target) -> Res<SendRequest<ReqBody>> {
    let tcp = TcpStream::connect(target.addr).await?;
    tcp.set_nodelay(true)?;
    match &target.tls {
        Some(connector) => {
            let name = rustls_pki_types::ServerName::from(IpAddr::V4(Ipv4Addr::LOCALHOST));
            let tls = connector.connect(name, tcp).await?;
            handshake(tls).await
        }
        None => handshake(tcp).await,
    }
}

/// Sends one request and reads the whole answer; returns its status.
async fn exchange(sender: &mut SendRequest<ReqBody>, req: Request<ReqBody>) -> Res<StatusCode> {
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let mut body = resp.into_body();
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            len += data.len();
        }
    }
    if status == StatusCode::OK && len != RESPONSE_BYTES {
        bail!("answer of {len} bytes, expected {RESPONSE_BYTES}");
    }
    Ok(status)
}

async fn exchange_checked(sender: &mut SendRequest<ReqBody>, req: Request<ReqBody>) -> Res<()> {
    let status = exchange(sender, req).await?;
    if status != StatusCode::OK {
        bail!("status {status}");
    }
    Ok(())
}

#[derive(Default)]
struct ConnResult {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    latencies_us: Vec<u32>,
}

impl ConnResult {
    fn error(&mut self, e: impl std::fmt::Display) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }
}

#[derive(Clone, Copy)]
struct Window {
    measure: Instant,
    end: Instant,
}

/// One keep-alive connection sending requests back to back (closed loop), or
/// one every `pace` (open loop at a fixed rate), until the window ends.
/// Counts the answers completed inside the window.
async fn drive(
    target: Target,
    pool: Arc<Vec<Template>>,
    first: usize,
    stride: usize,
    window: Window,
    pace: Option<(Duration, Instant)>,
) -> ConnResult {
    let mut result = ConnResult::default();
    let mut sender = match tokio::time::timeout_at(window.end.into(), connect(&target)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            result.error(format!("connect: {e}"));
            return result;
        }
        Err(_) => return result,
    };
    let mut next = pace.map(|(_, start)| start);
    let mut k = first;
    // Bounded by the window and by a request count no run can reach.
    for _ in 0..100_000_000u64 {
        if let (Some((interval, _)), Some(at)) = (pace, next.as_mut()) {
            let now = Instant::now();
            if *at > now {
                if *at >= window.end {
                    break;
                }
                tokio::time::sleep_until((*at).into()).await;
            }
            // Fell far behind (the proxy stalled): do not burst to catch up.
            *at = (*at + interval).max(Instant::now() - interval);
        }
        let sent = Instant::now();
        if sent >= window.end {
            break;
        }
        let req = pool[k % pool.len()].request();
        k += stride;
        match tokio::time::timeout_at(window.end.into(), exchange(&mut sender, req)).await {
            Err(_) => break,
            Ok(Ok(status)) => {
                let done = Instant::now();
                if status != StatusCode::OK {
                    result.error(format!("status {status}"));
                } else if done >= window.measure {
                    result.ok += 1;
                    let us = done.duration_since(sent).as_micros();
                    result
                        .latencies_us
                        .push(u32::try_from(us).unwrap_or(u32::MAX));
                }
            }
            Ok(Err(e)) => {
                result.error(e);
                if result.errors > 1000 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                match tokio::time::timeout_at(window.end.into(), connect(&target)).await {
                    Ok(Ok(s)) => sender = s,
                    Ok(Err(e)) => result.error(format!("reconnect: {e}")),
                    Err(_) => break,
                }
            }
        }
    }
    result
}

/// What one proxy did in one scenario.
#[derive(Clone, Debug, Default)]
struct Measured {
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    cpu_secs: f64,
    peak_rss_kib: u64,
    note: String,
    /// Scenario 5: RSS growth (KiB); scenario 6: KiB per idle connection.
    growth_kib: f64,
}

impl Measured {
    fn rps(&self) -> f64 {
        if self.secs > 0.0 {
            self.requests as f64 / self.secs
        } else {
            0.0
        }
    }

    fn cpu_per_1k(&self) -> f64 {
        if self.requests > 0 {
            self.cpu_secs * 1000.0 / self.requests as f64
        } else {
            0.0
        }
    }

    fn busy(&self) -> f64 {
        if self.secs > 0.0 {
            self.cpu_secs / self.secs
        } else {
            0.0
        }
    }
}

/// The `q` quantile of sorted microsecond latencies, in milliseconds.
fn percentile_ms(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1]) / 1000.0
}

struct LoadSpec {
    connections: usize,
    warmup: Duration,
    measure: Duration,
    /// Total requests per second across connections (open loop), or none
    /// for back-to-back (closed loop).
    rate: Option<f64>,
}

async fn run_load(
    env: &Env,
    proxy: &mut Proxy,
    pool: Arc<Vec<Template>>,
    spec: &LoadSpec,
) -> Res<Measured> {
    // A first signed request must pass, or nothing else will.
    let target = proxy.target(env);
    let mut probe = connect(&target).await?;
    exchange_checked(&mut probe, pool[0].request())
        .await
        .map_err(|e| {
            format!(
                "{}: the first signed request failed: {e}",
                proxy.kind.name()
            )
        })?;
    drop(probe);

    let start = Instant::now() + Duration::from_millis(50);
    let window = Window {
        measure: start + spec.warmup,
        end: start + spec.warmup + spec.measure,
    };
    let pace = spec
        .rate
        .map(|r| Duration::from_secs_f64(spec.connections as f64 / r));
    let mut tasks = Vec::with_capacity(spec.connections);
    for i in 0..spec.connections {
        let offset = pace.map(|iv| (iv, start + iv.mul_f64(i as f64 / spec.connections as f64)));
        tasks.push(tokio::spawn(drive(
            target.clone(),
            pool.clone(),
            i,
            spec.connections,
            window,
            offset,
        )));
    }
    let pid = proxy.process.pid();
    tokio::time::sleep_until(window.measure.into()).await;
    let cpu0 = group_cpu_ticks(pid);
    let sampler = RssSampler::start(pid, Duration::from_millis(100));
    let t0 = Instant::now();
    tokio::time::sleep_until(window.end.into()).await;
    let cpu1 = group_cpu_ticks(pid);
    let secs = t0.elapsed().as_secs_f64();
    let peak = sampler.finish().await;
    let mut all = ConnResult::default();
    for t in tasks {
        let r = tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .map_err(|_| "a connection task did not stop")??;
        all.ok += r.ok;
        all.errors += r.errors;
        if all.first_error.is_none() {
            all.first_error = r.first_error;
        }
        all.latencies_us.extend(r.latencies_us);
    }
    proxy.process.check()?;
    all.latencies_us.sort_unstable();
    let lat = &all.latencies_us;
    Ok(Measured {
        requests: all.ok,
        errors: all.errors,
        first_error: all.first_error,
        secs,
        p50_ms: percentile_ms(lat, 0.50),
        p99_ms: percentile_ms(lat, 0.99),
        p999_ms: percentile_ms(lat, 0.999),
        cpu_secs: cpu1.saturating_sub(cpu0) as f64 / env.ticks,
        peak_rss_kib: peak,
        ..Measured::default()
    })
}

/// A body of `remaining` bytes made of `chunk` repeated; flags when its last
/// byte has been taken.
struct RepeatBody {
    chunk: Bytes,
    remaining: u64,
    done: Arc<Mutex<Option<Instant>>>,
}

impl Body for RepeatBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            if let Ok(mut d) = self.done.lock() {
                d.get_or_insert_with(Instant::now);
            }
            return Poll::Ready(None);
        }
        let n = self
            .chunk
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        self.remaining -= n as u64;
        let data = self.chunk.slice(..n);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// Scenario 5: one streaming upload of `total` bytes with a signed payload
/// hash; RSS sampled every 20 ms.
async fn run_big_upload(
    env: &Env,
    proxy: &mut Proxy,
    chunk: &Bytes,
    total: u64,
    hash: &str,
) -> Res<Measured> {
    let target = proxy.target(env);
    let host = proxy.host();
    let mut sender = connect(&target).await?;
    // Warm the path (pools, buffers) with one 1 MiB upload first.
    let warm = put_pool(
        &env.signer,
        &host,
        &[(chunk.clone(), hex::encode(Sha256::digest(chunk)))],
        1,
    )?;
    exchange_checked(&mut sender, warm[0].request()).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let pid = proxy.process.pid();
    let before = group_rss_kib(pid);
    let path = format!("/{BUCKET}/large/one-gib.bin");
    let mut headers = sign(&env.signer, "PUT", &path, &host, hash)?;
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(total));
    let done = Arc::new(Mutex::new(None));
    let mut req = Request::new(
        RepeatBody {
            chunk: chunk.clone(),
            remaining: total,
            done: done.clone(),
        }
        .boxed(),
    );
    *req.method_mut() = Method::PUT;
    *req.uri_mut() = path.parse()?;
    *req.headers_mut() = headers;

    let cpu0 = group_cpu_ticks(pid);
    let sampler = RssSampler::start(pid, Duration::from_millis(20));
    let t0 = Instant::now();
    let result =
        tokio::time::timeout(Duration::from_secs(300), exchange_checked(&mut sender, req)).await;
    let answered = Instant::now();
    let cpu1 = group_cpu_ticks(pid);
    let peak = sampler.finish().await;
    result.map_err(|_| "the large upload took more than 300 s")??;
    let body_done = done.lock().ok().and_then(|d| *d).unwrap_or(answered);
    let secs = answered.max(body_done).duration_since(t0).as_secs_f64();
    let hwm = if proxy.kind == Kind::Countersign {
        status_kib(pid, "VmHWM:")
    } else {
        0
    };
    proxy.process.check()?;
    let peak = peak.max(hwm);
    let growth = peak.saturating_sub(before);
    let mib = total as f64 / MIB as f64;
    Ok(Measured {
        requests: 1,
        secs,
        cpu_secs: cpu1.saturating_sub(cpu0) as f64 / env.ticks,
        peak_rss_kib: peak,
        growth_kib: growth as f64,
        note: format!(
            "{mib:.0} MiB in {secs:.2} s ({:.0} MiB/s); RSS {:.1} → peak {:.1} MiB (+{:.1} MiB)",
            mib / secs,
            before as f64 / 1024.0,
            peak as f64 / 1024.0,
            growth as f64 / 1024.0
        ),
        ..Measured::default()
    })
}

/// Scenario 6: `n` keep-alive connections, one request each, then idle.
async fn run_idle(
    env: &Env,
    proxy: &mut Proxy,
    pool: Arc<Vec<Template>>,
    n: usize,
) -> Res<Measured> {
    let target = proxy.target(env);
    let mut warm = connect(&target).await?;
    for t in pool.iter().take(20) {
        exchange_checked(&mut warm, t.request()).await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = proxy.process.pid();
    let before = group_rss_kib(pid);
    let cpu0 = group_cpu_ticks(pid);
    let t0 = Instant::now();
    let mut senders = Vec::with_capacity(n);
    let deadline = Instant::now() + Duration::from_secs(60);
    // Open in batches of 50 concurrent connections.
    for batch in 0..n.div_ceil(50) {
        let mut tasks = Vec::new();
        for i in batch * 50..((batch + 1) * 50).min(n) {
            let target = target.clone();
            let req = pool[i % pool.len()].request();
            tasks.push(tokio::spawn(async move {
                let mut s = connect(&target).await?;
                exchange_checked(&mut s, req).await?;
                Ok::<_, Error>(s)
            }));
        }
        for t in tasks {
            let s = tokio::time::timeout_at(deadline.into(), t)
                .await
                .map_err(|_| "opening idle connections took more than 60 s")???;
            senders.push(s);
        }
    }
    let open_secs = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = group_rss_kib(pid);
    let cpu1 = group_cpu_ticks(pid);
    let still_open = senders.iter().filter(|s| !s.is_closed()).count();
    proxy.process.check()?;
    drop(senders);
    drop(warm);
    if still_open != n {
        bail!(
            "{}: only {still_open} of {n} idle connections stayed open",
            proxy.kind.name()
        );
    }
    let growth = after.saturating_sub(before);
    let per_conn = growth as f64 / n as f64;
    Ok(Measured {
        requests: n as u64,
        secs: open_secs,
        cpu_secs: cpu1.saturating_sub(cpu0) as f64 / env.ticks,
        peak_rss_kib: after,
        growth_kib: per_conn,
        note: format!(
            "{n} idle conns: RSS {:.1} → {:.1} MiB, {per_conn:.1} KiB per connection",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        ),
        ..Measured::default()
    })
}

// --------------------------------------------------------------- scenarios

struct ScenarioResult {
    number: u8,
    title: String,
    nginx: Measured,
    countersign: Measured,
}

fn windows(quick: bool) -> (Duration, Duration) {
    if quick {
        (Duration::from_millis(500), Duration::from_millis(1500))
    } else {
        (Duration::from_secs(3), Duration::from_secs(10))
    }
}

async fn scenario_load(
    env: &Env,
    kind: Kind,
    tls: bool,
    put: Option<&[(Bytes, String)]>,
    rate: Option<f64>,
) -> Res<Measured> {
    let mut proxy = start_proxy(env, kind, tls).await?;
    let host = proxy.host();
    let pool = match put {
        Some(bodies) => put_pool(&env.signer, &host, bodies, PUT_POOL)?,
        None => get_pool(&env.signer, &host, GET_POOL)?,
    };
    let (warmup, measure) = windows(env.quick);
    let spec = LoadSpec {
        connections: CONNECTIONS,
        warmup,
        measure,
        rate,
    };
    let m = run_load(env, &mut proxy, pool, &spec).await?;
    proxy.process.stop();
    Ok(m)
}

async fn both<F, Fut>(number: u8, title: &str, mut run: F) -> Res<ScenarioResult>
where
    F: FnMut(Kind) -> Fut,
    Fut: std::future::Future<Output = Res<Measured>>,
{
    println!("== scenario {number}: {title}");
    let mut out = Vec::new();
    for kind in [Kind::Nginx, Kind::Countersign] {
        let m = run(kind)
            .await
            .map_err(|e| format!("scenario {number} ({}): {e}", kind.name()))?;
        if number >= 5 {
            println!(
                "   {:<12} {}  CPU {:.3} s  errors {}",
                kind.name(),
                m.note,
                m.cpu_secs,
                m.errors
            );
            out.push(m);
            continue;
        }
        println!(
            "   {:<12} {:>10.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms  p99.9 {:>7.3} ms  CPU {:>6.3} s/1k  peak RSS {:>7.1} MiB  errors {}{}",
            kind.name(),
            m.rps(),
            m.p50_ms,
            m.p99_ms,
            m.p999_ms,
            m.cpu_per_1k(),
            m.peak_rss_kib as f64 / 1024.0,
            m.errors,
            if m.note.is_empty() { String::new() } else { format!("  {}", m.note) }
        );
        if let Some(e) = &m.first_error {
            println!("   {:<12} first error: {e}", "");
        }
        out.push(m);
    }
    let countersign = out.pop().unwrap_or_default();
    let nginx = out.pop().unwrap_or_default();
    Ok(ScenarioResult {
        number,
        title: title.to_owned(),
        nginx,
        countersign,
    })
}

async fn run_all(env: &Env, only: &Option<Vec<u8>>) -> Res<Vec<ScenarioResult>> {
    let wanted = |n: u8| only.as_ref().is_none_or(|o| o.contains(&n));
    let mut results = Vec::new();
    let mut countersign_peak = None;
    if wanted(1) {
        let r = both(1, "GET 1 KiB (S3 GetObject), 64 connections", |k| {
            scenario_load(env, k, false, None, None)
        })
        .await?;
        countersign_peak = Some(r.countersign.rps());
        results.push(r);
    }
    if wanted(2) {
        let bodies = put_bodies();
        let r = both(2, "PUT 1 MiB, signed payload hash, 64 connections", |k| {
            let bodies = bodies.clone();
            async move { scenario_load(env, k, false, Some(&bodies), None).await }
        })
        .await?;
        results.push(r);
    }
    if wanted(3) {
        let r = both(
            3,
            "GET 1 KiB over TLS (proxies terminate TLS), 64 connections",
            |k| scenario_load(env, k, true, None, None),
        )
        .await?;
        results.push(r);
    }
    if wanted(4) {
        let peak = match countersign_peak {
            Some(p) => p,
            None => {
                // A short probe when scenario 1 did not run.
                let probe = LoadSpec {
                    connections: CONNECTIONS,
                    warmup: Duration::from_millis(300),
                    measure: Duration::from_secs(1),
                    rate: None,
                };
                let mut proxy = start_proxy(env, Kind::Countersign, false).await?;
                let pool = get_pool(&env.signer, &proxy.host(), GET_POOL)?;
                run_load(env, &mut proxy, pool, &probe).await?.rps()
            }
        };
        let rate = (peak * 0.5).max(10.0);
        let title =
            format!("GET 1 KiB at 50% of Countersign's peak ({rate:.0} req/s), 64 connections");
        let r = both(4, &title, |k| {
            scenario_load(env, k, false, None, Some(rate))
        })
        .await?;
        results.push(r);
    }
    if wanted(5) {
        let total: u64 = if env.quick { 64 << 20 } else { 1 << 30 };
        let chunk = pseudo_random(MIB, 99);
        let mut hasher = Sha256::new();
        for _ in 0..total / MIB as u64 {
            hasher.update(&chunk);
        }
        let hash = hex::encode(hasher.finalize());
        let title = format!("one {} MiB streaming PUT, signed payload hash", total >> 20);
        let r = both(5, &title, |k| {
            let chunk = chunk.clone();
            let hash = hash.clone();
            async move {
                let mut proxy = start_proxy(env, k, false).await?;
                let m = run_big_upload(env, &mut proxy, &chunk, total, &hash).await?;
                proxy.process.stop();
                Ok(m)
            }
        })
        .await?;
        results.push(r);
    }
    if wanted(6) {
        let title = format!("{IDLE_CONNECTIONS} idle keep-alive connections");
        let r = both(6, &title, |k| async move {
            let mut proxy = start_proxy(env, k, false).await?;
            let pool = get_pool(&env.signer, &proxy.host(), IDLE_CONNECTIONS)?;
            let m = run_idle(env, &mut proxy, pool, IDLE_CONNECTIONS).await?;
            proxy.process.stop();
            Ok(m)
        })
        .await?;
        results.push(r);
    }
    Ok(results)
}

// ------------------------------------------------------------------ report

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "–".to_owned()
    }
}

fn table(results: &[ScenarioResult]) -> String {
    let mut t = String::new();
    t.push_str("| # | scenario | proxy | req/s | p50 ms | p99 ms | p99.9 ms | CPU s / 1k req | proxy core busy | peak RSS MiB | errors | notes |\n");
    t.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for r in results {
        let latency = r.number <= 4;
        for (name, m) in [("nginx", &r.nginx), ("countersign", &r.countersign)] {
            let lat = |v: f64| {
                if latency {
                    format!("{v:.3}")
                } else {
                    "–".to_owned()
                }
            };
            let rps = if latency {
                format!("{:.0}", m.rps())
            } else {
                "–".to_owned()
            };
            let cpu = match r.number {
                1..=4 => format!("{:.3}", m.cpu_per_1k()),
                5 => format!("{:.2} (per upload)", m.cpu_secs),
                _ => format!("{:.3} (opening)", m.cpu_per_1k()),
            };
            let busy = if latency {
                format!("{:.0}%", m.busy() * 100.0)
            } else {
                "–".to_owned()
            };
            let _ =
                writeln!(
                t,
                "| {} | {} | {name} | {rps} | {} | {} | {} | {cpu} | {busy} | {:.1} | {} | {} |",
                r.number,
                if name == "nginx" { r.title.as_str() } else { "" },
                lat(m.p50_ms),
                lat(m.p99_ms),
                lat(m.p999_ms),
                m.peak_rss_kib as f64 / 1024.0,
                m.errors,
                m.note
            );
        }
        let (c, n) = (&r.countersign, &r.nginx);
        let extra = match r.number {
            4 => format!("p99 added: {:+.3} ms", c.p99_ms - n.p99_ms),
            5 => format!("upload time ×{:.2}", c.secs / n.secs.max(1e-9)),
            6 => format!("KiB/conn {:.1} vs {:.1}", c.growth_kib, n.growth_kib),
            _ => String::new(),
        };
        let _ =
            writeln!(
            t,
            "| {} | | **countersign / nginx** | **{}** | {} | {} | {} | {} | | {} | | {extra} |",
            r.number,
            if latency { ratio(c.rps(), n.rps()) } else { "–".to_owned() },
            if latency { ratio(c.p50_ms, n.p50_ms) } else { "–".to_owned() },
            if latency { ratio(c.p99_ms, n.p99_ms) } else { "–".to_owned() },
            if latency { ratio(c.p999_ms, n.p999_ms) } else { "–".to_owned() },
            match r.number {
                1..=4 => ratio(c.cpu_per_1k(), n.cpu_per_1k()),
                5 => ratio(c.cpu_secs, n.cpu_secs),
                _ => "–".to_owned(),
            },
            ratio(c.peak_rss_kib as f64, n.peak_rss_kib as f64),
        );
    }
    t
}

fn targets(results: &[ScenarioResult]) -> String {
    let mut t = String::new();
    let mark = |ok: bool| if ok { "met" } else { "**missed**" };
    for r in results {
        let (c, n) = (&r.countersign, &r.nginx);
        let line = match r.number {
            1 => {
                let x = c.rps() / n.rps().max(1e-9);
                format!(
                    "scenario 1: ≥ 0.75× nginx req/s — {x:.2}× — {}",
                    mark(x >= 0.75)
                )
            }
            2 => {
                let x = c.rps() / n.rps().max(1e-9);
                format!(
                    "scenario 2: ≥ 0.8× nginx req/s — {x:.2}× — {}",
                    mark(x >= 0.8)
                )
            }
            4 => {
                let added = c.p99_ms - n.p99_ms;
                format!(
                    "scenario 4: p99 added ≤ 1 ms — {added:+.3} ms — {}",
                    mark(added <= 1.0)
                )
            }
            5 => {
                let mib = c.growth_kib / 1024.0;
                format!(
                    "scenario 5: RSS growth < 32 MiB — {mib:.1} MiB — {}",
                    mark(mib < 32.0)
                )
            }
            6 => format!(
                "scenario 6: < 64 KiB per idle connection — {:.1} KiB — {}",
                c.growth_kib,
                mark(c.growth_kib < 64.0)
            ),
            _ => continue,
        };
        let _ = writeln!(t, "- {line}");
    }
    t
}

const BEGIN: &str =
    "<!-- e2e-harness:begin (generated by benches/src/bin/e2e_harness.rs; rerun to replace) -->";
const END: &str = "<!-- e2e-harness:end -->";

fn write_report(path: &Path, generated: &str) -> Res<()> {
    let section = format!("{BEGIN}\n{generated}{END}\n");
    let text = match std::fs::read_to_string(path) {
        Ok(old) => match (old.find(BEGIN), old.find(END)) {
            (Some(b), Some(e)) if e > b => {
                format!("{}{section}{}", &old[..b], old[e + END.len()..].trim_start_matches('\n'))
            }
            _ => format!("{old}\n{section}"),
        },
        Err(_) => format!(
            "# Performance\n\nEnd-to-end figures of Countersign beside a plain nginx reverse proxy, \
             from `benches/src/bin/e2e_harness.rs` (see `benches/README.md`).\n\n{section}"
        ),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)?;
    Ok(())
}

// -------------------------------------------------------------------- main

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The countersign binary: given, or built with cargo in this binary's
/// profile and target directory (a no-op when it is up to date).
fn countersign_binary(args: &Args) -> Res<PathBuf> {
    if let Some(p) = args
        .countersign
        .clone()
        .or_else(|| std::env::var_os("COUNTERSIGN_BIN").map(PathBuf::from))
    {
        if !p.exists() {
            bail!("{}: no such countersign binary", p.display());
        }
        return Ok(p);
    }
    let exe = std::env::current_exe()?;
    let profile_dir = exe.parent().ok_or("no directory for the harness binary")?;
    let beside = profile_dir.join("countersign");
    let target_dir = profile_dir.parent().ok_or("no target directory")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo_root())
        .args(["build", "-p", "countersign", "--target-dir"])
        .arg(target_dir);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    println!(
        "== building countersign ({})",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    match cmd.status() {
        Ok(s) if s.success() => {}
        other if beside.exists() => {
            println!(
                "   cargo build failed ({other:?}); using the existing {}",
                beside.display()
            );
        }
        other => bail!("cannot build countersign: {other:?}"),
    }
    Ok(beside)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match real_main(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("e2e_harness: {e}");
            kill_everything();
            ExitCode::FAILURE
        }
    }
}

fn real_main(args: &Args) -> Res<bool> {
    let started = Instant::now();
    let nginx = ensure_nginx()?;
    let countersign = countersign_binary(args)?;
    let pinning = Pinning::plan();
    let machine = describe_machine(&nginx.binary, &countersign, &pinning);
    pinning.pin_self()?;
    if let Some(n) = args.nice {
        // Before any thread or child exists: they all inherit it.
        run_checked(
            Command::new("renice").args([
                "-n",
                &n.to_string(),
                "-p",
                &std::process::id().to_string(),
            ]),
            "renice",
        )?;
        println!("== running at nice {n}");
    }
    println!("== {}", pinning.describe());

    let pid = std::process::id();
    let scratch = ScratchDir::new(std::env::temp_dir().join(format!("countersign-e2e-{pid}")))?;
    let shm = Path::new("/dev/shm");
    let body_scratch = if shm.is_dir() {
        ScratchDir::new(shm.join(format!("countersign-e2e-{pid}")))?
    } else {
        ScratchDir::new(scratch.0.join("bodies"))?
    };
    let certs = make_certs(&scratch.0)?;
    let tls = tls_connector(&certs.ca)?;

    let workers = pinning
        .generator
        .as_deref()
        .map_or(1, |g| parse_cpu_list(g).len().max(1));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    let load_before = load_average();
    let results = runtime.block_on(async {
        tokio::spawn(async {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            eprintln!("e2e_harness: interrupted; stopping nginx and countersign");
            kill_everything();
            std::process::exit(130);
        });
        let (_upstream, upstream_port) =
            start_upstream(&scratch.0, &body_scratch.0, &nginx, &pinning).await?;
        let env = Env {
            dir: scratch.0.clone(),
            body_temp: body_scratch.0.clone(),
            nginx,
            countersign: countersign.clone(),
            upstream_port,
            certs,
            tls,
            pinning: pinning.clone(),
            ticks: clock_ticks_per_sec(),
            quick: args.quick,
            signer: Signer::default(),
        };
        run_all(&env, &args.only).await
    })?;
    let load_after = load_average();
    drop(runtime);

    let command = {
        let rest: Vec<String> = std::env::args().skip(1).collect();
        let profile = if cfg!(debug_assertions) {
            ""
        } else {
            " --release"
        };
        let tail = if rest.is_empty() {
            String::new()
        } else {
            format!(" -- {}", rest.join(" "))
        };
        format!("cargo run{profile} -p countersign-benches --bin e2e_harness{tail}")
    };
    let (warmup, measure) = windows(args.quick);
    let date = first_line_of(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]));
    let mut report = String::new();
    let _ = write!(
        report,
        "## Run of {date}{}\n\n\
         Command: `{command}` (as root; {:.0} s wall time).\n\n\
         Machine:\n{}\n- load average before / after: {load_before} / {load_after} (other work on the machine inflates figures; compare the ratios){}\n\n\
         Method: every scenario starts a fresh proxy; scenarios 1–4 run {} s of warm-up then a {} s window, \
         counting answers completed in it; latency is per request, from send to the last byte of the answer; \
         CPU is utime+stime of the proxy (nginx: master and worker) over the window, from `/proc/PID/stat`; \
         peak RSS is the largest sampled `VmRSS` (nginx: master + worker), and for Countersign in scenario 5 also `VmHWM`. \
         \"proxy core busy\" is CPU seconds per second of window: near 100% means the proxy was the bottleneck; \
         well below means it waited for the generator (which shares its core with the upstream) or lost its core \
         to other processes, and CPU s / 1k req is then the fairer comparison.\n\n",
        if args.quick { " (--quick smoke run: windows too short for figures)" } else { "" },
        started.elapsed().as_secs_f64(),
        machine.description,
        args.nice.map(|n| format!("\n- harness, nginx and countersign ran at nice {n}")).unwrap_or_default(),
        warmup.as_secs_f64(),
        measure.as_secs_f64(),
    );
    report.push_str(&table(&results));
    report.push_str("\nTargets of issue 8 (ratios from this run):\n\n");
    report.push_str(&targets(&results));
    println!("\n{report}");

    let out = if args.no_write {
        None
    } else if let Some(o) = &args.out {
        Some(o.clone())
    } else if !args.quick && args.only.is_none() {
        Some(repo_root().join("docs/PERFORMANCE.md"))
    } else {
        None
    };
    if let Some(path) = out {
        write_report(&path, &report)?;
        println!("== wrote {}", path.display());
    }
    let clean = results.iter().all(|r| {
        r.nginx.errors == 0
            && r.countersign.errors == 0
            && r.nginx.requests > 0
            && r.countersign.requests > 0
    });
    if !clean {
        eprintln!("e2e_harness: some scenario had errors or no completed requests");
    }
    println!("== done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1"), vec![0, 1]);
        assert_eq!(parse_cpu_list("0,2-3, 7"), vec![0, 2, 3, 7]);
        assert!(parse_cpu_list("").is_empty());
    }

    #[test]
    fn percentiles() {
        let v: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile_ms(&v, 0.5), 0.5);
        assert_eq!(percentile_ms(&v, 0.99), 0.99);
        assert_eq!(percentile_ms(&v, 0.999), 0.999);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }

    #[test]
    fn stat_parsing_skips_the_command_name() {
        let stat = "42 (nginx: worker (x)) S 41 1 1 0 -1 0 0 0 0 0 7 3 0 0";
        let f = stat_fields(stat).expect("fields");
        assert_eq!(f[0], "S");
        assert_eq!(f[1], "41");
        assert_eq!(f[11], "7");
        assert_eq!(f[12], "3");
    }

    #[test]
    fn report_section_is_replaced() {
        let dir = std::env::temp_dir().join(format!("e2e-report-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("P.md");
        std::fs::write(&path, "# Title\n\nnotes before\n").expect("write");
        write_report(&path, "first\n").expect("report");
        write_report(&path, "second\n").expect("report");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.starts_with("# Title\n\nnotes before\n"));
        assert!(text.contains("second") && !text.contains("first"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn signed_requests_carry_the_bench_key() {
        let signer = Signer::default();
        let pool = get_pool(&signer, "127.0.0.1:1", 2).expect("pool");
        let auth = pool[0].headers[http::header::AUTHORIZATION]
            .to_str()
            .expect("ascii");
        assert!(auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/")));
        assert_ne!(pool[0].uri, pool[1].uri);
    }
}
