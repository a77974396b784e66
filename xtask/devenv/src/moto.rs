//! moto's server on 127.0.0.1: the local stand-in for AWS in tests and `cargo xtask local`.

use std::fs::{self, File};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::{Error, Venv, io_err, target_dir};

const LAUNCHER: &str = include_str!("../moto_launcher.py");

/// How long moto may take to import and bind; a cold import is about two seconds here.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running moto server. Dropping it stops the server; so does the death of this process, because
/// the server exits when its standard input closes.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    log: std::path::PathBuf,
}

impl Moto {
    /// Starts a server on a free port.
    pub fn start(venv: &Venv) -> Result<Moto, Error> {
        Moto::start_on(venv, 0)
    }

    /// Starts a server on `port` (0: a free one, chosen by the OS).
    pub fn start_on(venv: &Venv, port: u16) -> Result<Moto, Error> {
        let launcher = venv.root().join("moto_launcher.py");
        if fs::read_to_string(&launcher).ok().as_deref() != Some(LAUNCHER) {
            fs::write(&launcher, LAUNCHER).map_err(io_err(format!("writing {}", launcher.display())))?;
        }
        let logs = target_dir()?.join("moto-logs");
        fs::create_dir_all(&logs).map_err(io_err(format!("creating {}", logs.display())))?;
        let log = logs.join(format!("moto-{}-{}.log", std::process::id(), unique()));
        let log_file = File::create(&log).map_err(io_err(format!("creating {}", log.display())))?;
        let mut child = Command::new(venv.bin("python"))
            .arg(&launcher)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(io_err("starting moto's server"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("PORT ").and_then(|p| p.trim().parse::<u16>().ok()) {
                    let _ = tx.send(port);
                }
            }
        });
        let mut moto = Moto { child, stdin, port: 0, log };
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(port) => {
                moto.port = port;
                Ok(moto)
            }
            Err(_) => Err(Error::Start { log: moto.log.clone() }),
        }
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL` or an SDK client's endpoint override.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the server's request log goes.
    pub fn log(&self) -> &std::path::Path {
        &self.log
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing stdin asks the launcher to shut down; kill it if it has not within a second.
        drop(self.stdin.take());
        for _ in 0..20 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A number unique within this process, for log file names.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Write as _};
    use std::net::TcpStream;

    fn get(port: u16, path: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap_or_else(|e| panic!("{e}"));
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    #[test]
    fn starts_on_a_free_port_answers_and_stops_when_dropped() {
        let venv = crate::ensure(&mut |l| eprintln!("{l}")).unwrap_or_else(|e| panic!("{e}"));
        let moto = Moto::start(&venv).unwrap_or_else(|e| panic!("{e}"));
        let port = moto.port();
        assert_ne!(port, 0);
        assert!(moto.endpoint().starts_with("http://127.0.0.1:"));
        let answer = get(port, "/moto-api/data.json");
        assert!(answer.starts_with("HTTP/1.") && answer.contains(" 200 "), "{answer}");
        drop(moto);
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "still listening after drop");
    }
}
