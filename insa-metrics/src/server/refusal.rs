//! Turning a connection away so that its 503 arrives: read the request, answer, half-close, wait for the client's close.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::admission::Slot;
use super::limits::REFUSAL_TIMEOUT;

/// The answer to a plain HTTP connection beyond the caps.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain; charset=utf-8\r\ncontent-length: 29\r\n\
connection: close\r\nretry-after: 1\r\n\r\n\
too many connections, retry\r\n";

/// Refuses `stream`: a 503 on plain HTTP, a clean close on TLS (answering
/// would take a handshake). Reads at most `max_head_bytes` of request.
/// Holds `slot` (a refusal slot) until the socket is closed.
///
/// Closing a socket with unread bytes makes the kernel send a reset, which
/// may destroy the answer before the client reads it; so does a request
/// that arrives after the close. The refusal reads what the client sends
/// before answering, and after answering until the client closes (each
/// step bounded by [`REFUSAL_TIMEOUT`]), so the close is a clean FIN.
pub(crate) async fn refuse(mut stream: TcpStream, tls: bool, max_head_bytes: usize, slot: Slot) {
    let _ = timeout(REFUSAL_TIMEOUT, read_head(&mut stream, max_head_bytes)).await;
    if !tls {
        let _ = timeout(REFUSAL_TIMEOUT, stream.write_all(BUSY)).await;
    }
    // FIN: the client sees the end of the answer.
    let _ = stream.shutdown().await;
    let _ = timeout(REFUSAL_TIMEOUT, drain(&mut stream)).await;
    drop(stream);
    drop(slot);
}

/// Reads until the end of a request head (`\r\n\r\n`), the end of the
/// stream, or `limit` bytes.
async fn read_head(stream: &mut TcpStream, limit: usize) {
    // The last 3 bytes of the previous read, then this read: a terminator
    // split across reads is seen too.
    let mut window = [0u8; 3 + 2048];
    let mut read = 0;
    while read < limit {
        let n = match stream.read(&mut window[3..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        read += n;
        let seen = &window[..3 + n];
        if seen.windows(4).any(|w| w == b"\r\n\r\n") {
            return;
        }
        window.copy_within(n..n + 3, 0);
    }
}

/// Reads and discards until the client closes.
async fn drain(stream: &mut TcpStream) {
    let mut buf = [0u8; 2048];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_busy_answer_is_well_formed() {
        let text = std::str::from_utf8(super::BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), length);
    }
}
