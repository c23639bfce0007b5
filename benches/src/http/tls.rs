//! The certificate of the TLS case: a self-signed ECDSA P-256 certificate made with `openssl`
//! once per run in a fresh temporary directory, removed when the run ends. Made rather than
//! checked in, so that no key lives in the repository and none outlives the run; P-256 because it
//! is what a site would deploy (and what `docs/runner.md` measured by hand).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::process::{on_path, run_bounded};

/// The PEM files given to the server (`--ssl-certfile`, `--ssl-keyfile`); the directory holding
/// them is removed on drop.
#[derive(Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    dir: PathBuf,
}

impl TlsFiles {
    /// Makes the certificate, or says why it cannot (no `openssl`, or it failed).
    pub fn make() -> Result<TlsFiles, String> {
        if !on_path("openssl") {
            return Err("no `openssl` on PATH".into());
        }
        let dir = std::env::temp_dir().join(format!("waitless-http-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let files = TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            dir,
        };
        let mut cmd = Command::new("openssl");
        cmd.args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(&files.key)
            .arg("-out")
            .arg(&files.cert);
        match run_bounded(&mut cmd, Duration::from_secs(30))? {
            (true, _, _) if files.cert.is_file() && files.key.is_file() => Ok(files),
            (_, out, err) => Err(format!("openssl req failed: {err}{out}")),
        }
    }
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::TlsFiles;

    #[test]
    fn makes_and_removes_a_certificate() {
        let Ok(files) = TlsFiles::make() else {
            return; // no openssl here: the harness skips the TLS case the same way
        };
        let cert = std::fs::read_to_string(&files.cert).unwrap();
        assert!(cert.contains("BEGIN CERTIFICATE"));
        let dir = files.dir.clone();
        drop(files);
        assert!(!dir.exists());
    }
}
