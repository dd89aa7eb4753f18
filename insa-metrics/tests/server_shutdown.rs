//! Bounded graceful shutdown: idle and half-sent connections cannot hold it.

mod support;

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
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
