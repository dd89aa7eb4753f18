//! The `crm_backend` command line: port, duration, linger, environment, breakers held open or tripped.

use std::time::Duration;

use crate::crm::CRM_AGENT;
use crate::orchestrator::ORCHESTRATOR;
use crate::sizing::SIZING_AGENT;

/// The usage text.
pub const USAGE: &str = "\
usage: crm_backend [--port PORT] [--duration SECONDS] [--linger SECONDS]
                   [--environment NAME] [--force-breaker-open[=AGENT]]
                   [--trip-breaker[=AGENT]]

  --port PORT            serve /metrics on 127.0.0.1:PORT (default 9091; 0 picks a free port)
  --duration SECONDS     stop after SECONDS (default: run until Ctrl-C or SIGTERM)
  --linger SECONDS       once the workload has stopped (--duration), keep serving the
                         final, frozen metrics for SECONDS (or until a signal); for tests
                         that compare Prometheus' sums with each process's /metrics
  --environment NAME     the environment label of insa_system_info (default development)
  --force-breaker-open   hold the circuit breaker of AGENT open (default crm_agent),
                         as an operator isolating an agent would; for alert tests
  --trip-breaker         open the circuit breaker of AGENT once at start (default
                         crm_agent); it recovers as usual: its transitions are on
                         record whatever the workload does";

/// The parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendArgs {
    /// The metrics server's port.
    pub port: u16,
    /// How long to run; `None` until stopped.
    pub duration: Option<Duration>,
    /// How long to keep serving the frozen metrics after the workload stopped.
    pub linger: Duration,
    /// `insa_system_info{environment}`.
    pub environment: String,
    /// Agents whose breaker is held open.
    pub force_breaker_open: Vec<&'static str>,
    /// Agents whose breaker opens once at start.
    pub trip_breaker: Vec<&'static str>,
}

impl Default for BackendArgs {
    fn default() -> Self {
        BackendArgs {
            port: 9091,
            duration: None,
            linger: Duration::ZERO,
            environment: "development".to_owned(),
            force_breaker_open: Vec::new(),
            trip_breaker: Vec::new(),
        }
    }
}

impl BackendArgs {
    /// Parses the arguments (without the program name).
    ///
    /// # Errors
    ///
    /// A message naming the bad argument; `Err(USAGE)` for `--help`.
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Self, String> {
        let mut parsed = BackendArgs::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            let mut value = |name: &str| {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match flag.as_str() {
                "--port" => {
                    let v = value("--port")?;
                    parsed.port = v.parse().map_err(|_| format!("bad port: {v}"))?;
                }
                "--duration" => {
                    let v = value("--duration")?;
                    let secs: f64 = v.parse().map_err(|_| format!("bad duration: {v}"))?;
                    if !(secs.is_finite() && secs > 0.0) {
                        return Err(format!("bad duration: {v}"));
                    }
                    parsed.duration = Some(Duration::from_secs_f64(secs));
                }
                "--linger" => {
                    let v = value("--linger")?;
                    let secs: f64 = v.parse().map_err(|_| format!("bad linger: {v}"))?;
                    if !(secs.is_finite() && secs >= 0.0) {
                        return Err(format!("bad linger: {v}"));
                    }
                    parsed.linger = Duration::from_secs_f64(secs);
                }
                "--environment" => parsed.environment = value("--environment")?,
                "--force-breaker-open" => parsed.force_breaker_open.push(agent(inline.as_deref())?),
                "--trip-breaker" => parsed.trip_breaker.push(agent(inline.as_deref())?),
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument: {other}\n{USAGE}")),
            }
        }
        Ok(parsed)
    }
}

/// The agent a breaker flag names (`crm_agent` when it names none).
fn agent(named: Option<&str>) -> Result<&'static str, String> {
    match named {
        None | Some(CRM_AGENT) => Ok(CRM_AGENT),
        Some(SIZING_AGENT) => Ok(SIZING_AGENT),
        Some(other) => Err(format!(
            "no breaker for {other}: {CRM_AGENT} or {SIZING_AGENT} \
             (the {ORCHESTRATOR} has one in front of each)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<BackendArgs, String> {
        BackendArgs::parse(args.iter().map(ToString::to_string))
    }

    #[test]
    fn defaults() {
        assert_eq!(parse(&[]).unwrap(), BackendArgs::default());
    }

    #[test]
    fn every_flag() {
        let args = parse(&[
            "--port",
            "0",
            "--duration=2.5",
            "--linger",
            "30",
            "--environment",
            "staging",
            "--force-breaker-open",
            "--force-breaker-open=sizing_agent",
            "--trip-breaker=sizing_agent",
        ])
        .unwrap();
        assert_eq!(args.port, 0);
        assert_eq!(args.duration, Some(Duration::from_millis(2_500)));
        assert_eq!(args.linger, Duration::from_secs(30));
        assert_eq!(args.environment, "staging");
        assert_eq!(args.force_breaker_open, [CRM_AGENT, SIZING_AGENT]);
        assert_eq!(args.trip_breaker, [SIZING_AGENT]);
    }

    #[test]
    fn errors_name_the_argument() {
        assert!(parse(&["--port", "x"]).unwrap_err().contains("bad port"));
        assert!(
            parse(&["--duration", "-1"])
                .unwrap_err()
                .contains("bad duration")
        );
        assert!(
            parse(&["--linger", "-1"])
                .unwrap_err()
                .contains("bad linger")
        );
        assert!(
            parse(&["--duration"])
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(
            parse(&["--force-breaker-open=db"])
                .unwrap_err()
                .contains("no breaker for db")
        );
        assert!(
            parse(&["--trip-breaker=db"])
                .unwrap_err()
                .contains("no breaker for db")
        );
        assert!(
            parse(&["--verbose"])
                .unwrap_err()
                .contains("unknown argument")
        );
    }
}
