//! The Cloud Spanner emulator of one test binary: started on free ports the
//! first time a test asks for a database, stopped when the binary exits.
//! Each test binary (suite) starts its own, so each suite begins with an
//! empty emulator; each test gets its own database, migrated by the
//! service's own `migrate`.
//!
//! The emulator is Google's: `gateway_main` serves REST (for the admin
//! clients) and runs `emulator_main` (gRPC, for data) as its child. Both
//! live in a process group the gateway leads, with a watchdog that stops
//! the group (by its id, the gateway's pid) as soon as this test binary is
//! gone, however it ends: normal exit, panic, Ctrl-C or SIGKILL.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Where the gcloud SDK installs the emulator.
const SDK_DIR: &str = "/usr/lib/google-cloud-sdk/bin/cloud_spanner_emulator";

/// The running emulator: its ports and the gateway's process.
pub struct Emulator {
    /// `host:port` of the gRPC (data) side.
    pub grpc_host: String,
    /// `host:port` of the REST (admin) side.
    pub rest_host: String,
    next_database: AtomicU32,
    /// The write end of the watchdog's stdin. Never written: the kernel
    /// closes it when this process ends, and the watchdog then stops the
    /// emulator's process group.
    _watchdog: ChildStdin,
}

/// Run in the emulator's process group: waits for its stdin to close, then
/// stops the group (SIGTERM, then SIGKILL), itself included.
const WATCHDOG: &str = "trap '' TERM; read _; kill -TERM 0; sleep 1; kill -KILL 0";

static EMULATOR: OnceLock<Emulator> = OnceLock::new();

/// The emulator of this test binary, started on first use. Sets
/// `SPANNER_EMULATOR_HOST` and `SPANNER_EMULATOR_REST_HOST` for this
/// process (and so for the `likes` processes tests start).
pub fn emulator() -> &'static Emulator {
    EMULATOR.get_or_init(Emulator::start)
}

/// A database of its own for one test, with the schema applied by
/// `likes::store::spanner::migrate`. Returns its `projects/…` name.
pub async fn database() -> String {
    let emulator = emulator();
    let n = emulator.next_database.fetch_add(1, Ordering::Relaxed);
    // The emulator allows 100 databases per instance.
    let name = format!(
        "projects/test/instances/suite-{}/databases/test-{n}",
        n / 50
    );
    likes::store::spanner::migrate(&name)
        .await
        .unwrap_or_else(|e| panic!("migrating {name} on the emulator: {e}"));
    name
}

fn find_binaries() -> (PathBuf, PathBuf) {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("SPANNER_EMULATOR_DIR") {
        dirs.push(dir.into());
    }
    dirs.push(SDK_DIR.into());
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    for dir in &dirs {
        let gateway = dir.join("gateway_main");
        let emulator = dir.join("emulator_main");
        if gateway.is_file() && emulator.is_file() {
            return (gateway, emulator);
        }
    }
    panic!(
        "the Cloud Spanner emulator (gateway_main and emulator_main) is not installed: \
         looked in $SPANNER_EMULATOR_DIR, {SDK_DIR} and $PATH. Install it with \
         `gcloud components install cloud-spanner-emulator` (or Debian's package \
         google-cloud-cli-spanner-emulator), or copy /gateway_main and /emulator_main out of \
         the container image gcr.io/cloud-spanner-emulator/emulator into a folder and set \
         SPANNER_EMULATOR_DIR to it"
    );
}

/// Two distinct ports nobody listens on right now.
fn free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

impl Emulator {
    fn start() -> Self {
        let (gateway, emulator) = find_binaries();
        let (grpc, rest) = free_ports();
        let log_path = std::env::temp_dir().join(format!(
            "likes-spanner-emulator-{}-{grpc}.log",
            std::process::id()
        ));
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(&gateway)
            .args(["--hostname", "127.0.0.1"])
            .args(["--grpc_port", &grpc.to_string()])
            .args(["--http_port", &rest.to_string()])
            .arg("--grpc_binary")
            .arg(&emulator)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // Its own process group, so the gateway and the emulator it
            // spawns stop together.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", gateway.display()));
        let watchdog = Command::new("sh")
            .args(["-c", WATCHDOG])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(child.id() as i32)
            .spawn()
            .expect("starting the emulator's watchdog")
            .stdin
            .take()
            .expect("the watchdog's stdin is piped");
        let this = Self {
            grpc_host: format!("127.0.0.1:{grpc}"),
            rest_host: format!("127.0.0.1:{rest}"),
            next_database: AtomicU32::new(0),
            _watchdog: watchdog,
        };
        // On a failed start, dropping `this` (the watchdog's stdin) on the
        // way out of the panic stops what did start.
        this.wait_until_ready(child, &log_path);
        // SAFETY: set once, before any Spanner client of this process exists
        // (they are built after `emulator()` returns), and read through
        // std's environment lock by everything that reads it.
        unsafe {
            std::env::set_var("SPANNER_EMULATOR_HOST", &this.grpc_host);
            std::env::set_var("SPANNER_EMULATOR_REST_HOST", &this.rest_host);
        }
        this
    }

    /// Waits until the gRPC side accepts connections and the REST side
    /// answers a request.
    fn wait_until_ready(&self, mut child: Child, log: &Path) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the Spanner emulator exited ({status}) while starting:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            if accepts(&self.grpc_host) && rest_answers(&self.rest_host) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the Spanner emulator did not start within 60 s:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn accepts(host: &str) -> bool {
    std::net::TcpStream::connect_timeout(&host.parse().unwrap(), Duration::from_millis(200)).is_ok()
}

/// True when the REST gateway answers a list of instances with HTTP 200.
fn rest_answers(host: &str) -> bool {
    let Ok(mut stream) =
        std::net::TcpStream::connect_timeout(&host.parse().unwrap(), Duration::from_millis(200))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /v1/projects/test/instances HTTP/1.0\r\nHost: {host}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}
