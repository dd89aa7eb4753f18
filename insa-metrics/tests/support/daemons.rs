//! Real daemons for the tests: Prometheus (scraping the server, with its
//! HTTP API) and the Pushgateway, each on a free loopback port, stopped on drop.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hyper::{Method, StatusCode};

use super::{
    ChildGuard, Response, TempDir, fixtures, free_port, get, request_tls, require_binary,
    url_encode,
};

/// A real Prometheus on a free loopback port, with its own storage, stopped
/// on drop.
#[derive(Debug)]
pub struct Prometheus {
    pub addr: SocketAddr,
    child: ChildGuard,
    _dir: TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping every second with these `scrape_configs`
    /// entries (YAML, each starting with `- job_name:`, indented by 2).
    /// `files` are written next to the config first (e.g. a CA), so the
    /// entries can name them relative to the config's directory.
    pub async fn start(
        scrape_configs: &str,
        files: &[(&str, &[u8])],
    ) -> anyhow::Result<Prometheus> {
        // The free port may be taken between the check and Prometheus's bind.
        let mut attempt = 0;
        loop {
            match Self::try_start(scrape_configs, files).await {
                Err(error) if attempt < 5 && is_port_clash(&error) => {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn try_start(
        scrape_configs: &str,
        files: &[(&str, &[u8])],
    ) -> anyhow::Result<Prometheus> {
        let binary = require_binary("prometheus", "prometheus");
        let dir = TempDir::new("prometheus");
        for (name, contents) in files {
            fs::write(dir.path().join(name), contents)?;
        }
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n{scrape_configs}\n"
        );
        let config_path = dir.path().join("prometheus.yml");
        fs::write(&config_path, &config)?;
        let port = free_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut command = Command::new(binary);
        command
            .current_dir(dir.path())
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn");
        let child = ChildGuard::spawn(command, dir.path().join("prometheus.log"));
        let mut prometheus = Prometheus {
            addr,
            child,
            _dir: dir,
        };
        let started = Instant::now();
        loop {
            prometheus.child.check_alive()?;
            if get(addr, "/-/ready")
                .await
                .is_ok_and(|r| r.status == StatusCode::OK)
            {
                // Another test's Prometheus may have taken the same free port:
                // only ours was started with this configuration file.
                let flags = prometheus.api("/api/v1/status/flags").await?;
                let ours = config_path.display().to_string();
                if flags["config.file"] == ours.as_str() {
                    return Ok(prometheus);
                }
                bail!(
                    "address already in use: another Prometheus answers on {addr} ({})",
                    flags["config.file"]
                );
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "Prometheus not ready after 60 s:\n{}",
                    prometheus.child.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A GET on the Prometheus HTTP API, as JSON `data`.
    pub async fn api(&self, path_and_query: &str) -> anyhow::Result<serde_json::Value> {
        let response = get(self.addr, path_and_query).await?;
        let json: serde_json::Value = serde_json::from_slice(&response.body)
            .with_context(|| format!("{path_and_query}: {}", response.text()))?;
        if json["status"] != "success" {
            bail!("{path_and_query}: {json}");
        }
        Ok(json["data"].clone())
    }

    /// Waits until every target of `job` was scraped successfully; the error
    /// carries Prometheus's `lastError`.
    pub async fn wait_target_up(&mut self, job: &str, timeout: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut last = String::from("no target yet");
        while started.elapsed() < timeout {
            self.child.check_alive()?;
            let data = self.api("/api/v1/targets?state=active").await?;
            let targets: Vec<&serde_json::Value> = data["activeTargets"]
                .as_array()
                .map(|targets| {
                    targets
                        .iter()
                        .filter(|t| t["labels"]["job"] == job)
                        .collect()
                })
                .unwrap_or_default();
            if !targets.is_empty()
                && targets
                    .iter()
                    .all(|t| t["health"] == "up" && t["lastError"] == "")
            {
                return Ok(());
            }
            if let Some(target) = targets.first() {
                last = format!(
                    "health {}, lastError {}",
                    target["health"], target["lastError"]
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!("job {job} not up after {timeout:?}: {last}")
    }

    /// Waits until Prometheus has scraped the targets of `job` at least once
    /// and failed; returns the first target's `lastError`.
    pub async fn wait_target_error(
        &mut self,
        job: &str,
        timeout: Duration,
    ) -> anyhow::Result<String> {
        let started = Instant::now();
        let mut last = String::from("no target yet");
        while started.elapsed() < timeout {
            self.child.check_alive()?;
            let data = self.api("/api/v1/targets?state=active").await?;
            let target = data["activeTargets"]
                .as_array()
                .and_then(|targets| targets.iter().find(|t| t["labels"]["job"] == job).cloned());
            if let Some(target) = target {
                if let Some(error) = target["lastError"].as_str().filter(|e| !e.is_empty()) {
                    return Ok(error.to_owned());
                }
                last = format!(
                    "health {}, lastError {}",
                    target["health"], target["lastError"]
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!("job {job} had no failed scrape after {timeout:?}: {last}")
    }

    /// The value of the instant query `expr` once it returns one sample.
    pub async fn wait_value(&mut self, expr: &str, timeout: Duration) -> anyhow::Result<f64> {
        let started = Instant::now();
        loop {
            self.child.check_alive()?;
            let data = self
                .api(&format!("/api/v1/query?query={}", url_encode(expr)))
                .await?;
            if let Some(value) = data["result"][0]["value"][1].as_str() {
                return Ok(value.parse()?);
            }
            if started.elapsed() > timeout {
                bail!("{expr} returned no sample after {timeout:?}: {data}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A Pushgateway (Debian package `prometheus-pushgateway`) on a free loopback
/// port, without persistence, stopped on drop.
#[derive(Debug)]
pub struct Pushgateway {
    pub addr: SocketAddr,
    /// With TLS: the CA that signed the gateway's certificate.
    tls_ca: Option<PathBuf>,
    _child: ChildGuard,
    _dir: TempDir,
}

impl Pushgateway {
    pub async fn start() -> anyhow::Result<Pushgateway> {
        Self::start_with(None).await
    }

    /// A gateway serving HTTPS with the test server certificate (fixtures,
    /// signed by `tls/ca.pem`, valid for 127.0.0.1).
    pub async fn start_tls() -> anyhow::Result<Pushgateway> {
        Self::start_with(Some(fixtures().join("tls"))).await
    }

    async fn start_with(tls: Option<PathBuf>) -> anyhow::Result<Pushgateway> {
        let mut attempt = 0;
        loop {
            match Self::try_start(tls.as_deref()).await {
                Err(error) if attempt < 5 && is_port_clash(&error) => {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn try_start(tls: Option<&Path>) -> anyhow::Result<Pushgateway> {
        let binary = require_binary("prometheus-pushgateway", "prometheus-pushgateway");
        let dir = TempDir::new("pushgateway");
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        // The file only names this instance: it is written every 5 minutes
        // at most, and the gateway is killed long before.
        let identity = dir.path().join("persistence").display().to_string();
        let mut command = Command::new(binary);
        command
            .current_dir(dir.path())
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!("--persistence.file={identity}"))
            .arg("--log.level=warn");
        if let Some(tls) = tls {
            // exporter-toolkit's web configuration, as Prometheus's own.
            let web_config = dir.path().join("web.yml");
            fs::write(
                &web_config,
                format!(
                    "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
                    tls.join("server.pem").display(),
                    tls.join("server.key").display()
                ),
            )?;
            command.arg(format!("--web.config.file={}", web_config.display()));
        }
        let child = ChildGuard::spawn(command, dir.path().join("pushgateway.log"));
        let mut gateway = Pushgateway {
            addr,
            tls_ca: tls.map(|tls| tls.join("ca.pem")),
            _child: child,
            _dir: dir,
        };
        let started = Instant::now();
        loop {
            gateway._child.check_alive()?;
            if gateway.get("/-/ready").await.is_ok_and(|r| r.status == 200) {
                // Another test's gateway may have taken the same free port.
                let status = gateway.get("/api/v1/status").await?;
                let json: serde_json::Value = serde_json::from_slice(&status.body)
                    .with_context(|| format!("/api/v1/status: {}", status.text()))?;
                let file = &json["data"]["flags"]["persistence.file"];
                if file == identity.as_str() {
                    return Ok(gateway);
                }
                bail!("address already in use: another Pushgateway answers on {addr} ({file})");
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "Pushgateway not ready after 60 s:\n{}",
                    gateway._child.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls_ca.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The CA to trust for a TLS gateway.
    pub fn tls_ca(&self) -> Option<&Path> {
        self.tls_ca.as_deref()
    }

    /// A GET on the gateway, over HTTPS when it serves TLS.
    async fn get(&self, path: &str) -> anyhow::Result<Response> {
        match &self.tls_ca {
            None => get(self.addr, path).await,
            Some(ca) => request_tls(self.addr, ca, "127.0.0.1", Method::GET, path, &[]).await,
        }
    }

    /// The sample lines of `family` the gateway serves.
    pub async fn samples(&self, family: &str) -> anyhow::Result<Vec<String>> {
        let text = self.get("/metrics").await?.text();
        Ok(text
            .lines()
            .filter(|line| line.starts_with(&format!("{family}{{")))
            .map(str::to_owned)
            .collect())
    }
}

/// Whether starting a child failed because its free port was taken meanwhile.
fn is_port_clash(error: &anyhow::Error) -> bool {
    error.to_string().contains("address already in use")
}
