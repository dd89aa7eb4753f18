//! Bounded graceful shutdown: idle and half-sent connections, slow and hung collectors cannot hold it.

mod support;

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use insa_metrics::{MetricsServer, start_metrics_server, stop_metrics_server};

/// An idle connection, one half-way through its headers, and one idle after
/// a complete keep-alive request.
fn open_awkward_connections(addr: SocketAddr) -> Vec<TcpStream> {
    let idle = TcpStream::connect(addr).unwrap();
    let mut half_sent = TcpStream::connect(addr).unwrap();
    half_sent
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nx-pending: yes")
        .unwrap();
    let mut kept_alive = TcpStream::connect(addr).unwrap();
    kept_alive
        .write_all(b"HEAD /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = kept_alive.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
    // The server accepts from one loop, in arrival order: now that the last
    // connection is answered, it holds the other two as well.
    vec![idle, half_sent, kept_alive]
}

/// Each connection must be closed by the server: EOF (possibly after an
/// error response) or a reset. A read that times out means the connection is
/// still open, and fails.
fn assert_closed(connections: Vec<TcpStream>) {
    for (which, mut stream) in ["idle", "half-sent", "kept-alive"].iter().zip(connections) {
        // Generous: the server has stopped already, so the close is there.
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut rest = Vec::new();
        match stream.read_to_end(&mut rest) {
            Ok(_) => assert!(
                rest.is_empty() || rest.starts_with(b"HTTP/1.1 "),
                "{which} connection after shutdown: {:?}",
                String::from_utf8_lossy(&rest)
            ),
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) => {}
            Err(error) => panic!("{which} connection still open after shutdown: {error}"),
        }
    }
}

#[test]
fn global_stop_is_bounded_and_frees_the_port() {
    let addr = start_metrics_server(0).unwrap();
    let connections = open_awkward_connections(addr);
    let started = Instant::now();
    stop_metrics_server();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "stop took {took:?}");
    drop(TcpListener::bind(addr).expect("the port is free once stop returns"));
    assert_closed(connections);
    stop_metrics_server();
}

#[test]
fn serve_on_a_runtime_is_bounded_too() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = MetricsServer::builder().port(0).build().unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = runtime.spawn(server.serve(async {
        let _ = stopped.await;
    }));
    let connections = open_awkward_connections(addr);
    let started = Instant::now();
    stop.send(()).unwrap();
    runtime.block_on(task).unwrap().unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    drop(TcpListener::bind(addr).expect("the port is free once serve returns"));
    assert_closed(connections);
}

/// A collector that blocks in `collect` until its gate opens (or for
/// `delay` when given), and says when it was entered.
#[derive(Clone)]
struct Stuck {
    desc: prometheus::core::Desc,
    delay: Option<Duration>,
    entered: Arc<AtomicBool>,
    gate: Arc<(Mutex<bool>, Condvar)>,
}

impl std::fmt::Debug for Stuck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stuck")
    }
}

impl Stuck {
    fn new(delay: Option<Duration>) -> Stuck {
        let desc = prometheus::core::Desc::new(
            "insa_test_stuck".into(),
            "Stuck.".into(),
            Vec::new(),
            Default::default(),
        )
        .unwrap();
        Stuck {
            desc,
            delay,
            entered: Arc::default(),
            gate: Arc::default(),
        }
    }

    /// A registry holding this collector.
    fn registry(&self) -> prometheus::Registry {
        let registry = prometheus::Registry::new();
        registry.register(Box::new(self.clone())).unwrap();
        registry
    }

    /// Starts a scrape on a thread of its own and waits until it is stuck
    /// in `collect` (observable state, no timing).
    fn scrape_and_wait_until_stuck(&self, addr: SocketAddr) {
        std::thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n");
            let _ = stream.read_to_end(&mut Vec::new());
        });
        let started = Instant::now();
        while !self.entered.load(Ordering::SeqCst) {
            assert!(started.elapsed() < Duration::from_secs(30), "never scraped");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Lets a stuck `collect` return, so the test leaves no thread behind.
    fn release(&self) {
        let (open, opened) = &*self.gate;
        *open.lock().unwrap() = true;
        opened.notify_all();
    }
}

impl prometheus::core::Collector for Stuck {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        self.entered.store(true, Ordering::SeqCst);
        match self.delay {
            Some(delay) => std::thread::sleep(delay),
            None => {
                let (open, opened) = &*self.gate;
                let open = open.lock().unwrap();
                // Bounded, so that a failing test leaves no thread for long.
                let _open = opened
                    .wait_timeout_while(open, Duration::from_secs(120), |open| !*open)
                    .unwrap();
            }
        }
        Vec::new()
    }
}

/// Runs `stop` on a thread and returns how long it took, or fails after
/// 30 s instead of hanging the test.
fn time_bounded(stop: impl FnOnce() + Send + 'static) -> Duration {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let started = Instant::now();
        stop();
        let _ = done.send(started.elapsed());
    });
    finished
        .recv_timeout(Duration::from_secs(30))
        .expect("stop did not return within 30 s")
}

const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);
/// The shutdown timeout, and room for a loaded machine.
const STOP_BOUND: Duration = Duration::from_secs(3);

#[test]
fn stop_is_bounded_while_an_encoding_takes_5_s() {
    let slow = Stuck::new(Some(Duration::from_secs(5)));
    let server = MetricsServer::builder()
        .port(0)
        .registry(slow.registry())
        .shutdown_timeout(SHUTDOWN_TIMEOUT)
        .build()
        .unwrap()
        .start()
        .unwrap();
    let addr = server.local_addr();
    slow.scrape_and_wait_until_stuck(addr);
    let took = time_bounded(move || server.stop());
    eprintln!("stop with a 5 s encoding in flight: {took:?}");
    assert!(took < STOP_BOUND, "stop took {took:?}");
    drop(TcpListener::bind(addr).expect("the port is free once stop returns"));
}

#[test]
fn stop_is_bounded_while_a_collector_hangs() {
    let hung = Stuck::new(None);
    let server = MetricsServer::builder()
        .port(0)
        .registry(hung.registry())
        .shutdown_timeout(SHUTDOWN_TIMEOUT)
        .build()
        .unwrap()
        .start()
        .unwrap();
    let addr = server.local_addr();
    hung.scrape_and_wait_until_stuck(addr);
    let took = time_bounded(move || server.stop());
    hung.release();
    eprintln!("stop with a hung collector: {took:?}");
    assert!(took < STOP_BOUND, "stop took {took:?}");
    drop(TcpListener::bind(addr).expect("the port is free once stop returns"));
}

#[test]
fn serve_and_its_runtime_end_while_a_collector_hangs() {
    let hung = Stuck::new(None);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = MetricsServer::builder()
        .port(0)
        .registry(hung.registry())
        .shutdown_timeout(SHUTDOWN_TIMEOUT)
        .build()
        .unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = runtime.spawn(server.serve(async {
        let _ = stopped.await;
    }));
    hung.scrape_and_wait_until_stuck(addr);
    // The caller's runtime is not held either: nothing of the scrape runs on
    // its blocking pool.
    let took = time_bounded(move || {
        stop.send(()).unwrap();
        runtime.block_on(task).unwrap().unwrap();
        drop(runtime);
    });
    hung.release();
    eprintln!("serve and its runtime's drop with a hung collector: {took:?}");
    assert!(
        took < STOP_BOUND,
        "serve and the runtime's drop took {took:?}"
    );
}
