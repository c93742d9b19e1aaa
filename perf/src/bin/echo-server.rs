//! `echo-server`: the floor under every daemon in perf/compare.sh. One thread, one epoll (mio)
//! over non-blocking TCP sockets; it answers every complete RPC record with a fixed
//! MSG_ACCEPTED / SUCCESS reply carrying the call's xid and an all-zero `gf_common_rsp` (what
//! PING returns), without decoding anything else. No allocation per call, no dispatch, no
//! dict: what is left of a round trip is the kernel's and the reactor's share.
//!
//! Usage: echo-server --listen 127.0.0.1:24412
//! Prints `echo-server ready: ADDR` on stdout once it listens; runs until killed.

use brickd::proto::record::{RecordDecoder, RECORD_BYTES_MAX_DEFAULT};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;

/// Bytes read per `read` call (the load generator batches up to 16 calls per connection).
const READ_CHUNK_BYTES: usize = 64 << 10;
/// Connections served at once.
const CONNECTIONS_MAX: usize = 4096;
const LISTENER: Token = Token(usize::MAX);

/// The reply after the fragment header and xid: REPLY, MSG_ACCEPTED, AUTH_NULL verifier of
/// length 0, SUCCESS, then op_ret 0, op_errno 0, xdata of length 0.
const REPLY_TAIL: [u8; 32] = {
    let mut tail = [0u8; 32];
    tail[3] = 1; // msg_type REPLY
    tail
};
const REPLY_BYTES: usize = 4 + 4 + REPLY_TAIL.len();

struct Conn {
    stream: TcpStream,
    decoder: RecordDecoder,
    input: Vec<u8>,
    output: Vec<u8>,
}

fn usage() -> ! {
    eprintln!("usage: echo-server --listen ADDR:PORT");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr: SocketAddr = match args.as_slice() {
        [flag, addr] if flag == "--listen" => addr.parse().unwrap_or_else(|_| usage()),
        _ => usage(),
    };
    if let Err(e) = serve(addr) {
        eprintln!("echo-server: {e}");
        std::process::exit(1);
    }
}

fn serve(addr: SocketAddr) -> std::io::Result<()> {
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("echo-server ready: {}", listener.local_addr()?);
    let mut conns: HashMap<usize, Conn> = HashMap::new();
    let mut next_token = 0usize;
    let mut events = Events::with_capacity(1024);
    loop {
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            if conns.len() >= CONNECTIONS_MAX {
                                continue;
                            }
                            stream.set_nodelay(true)?;
                            let token = next_token;
                            next_token = next_token.wrapping_add(1) % (usize::MAX - 1);
                            poll.registry().register(
                                &mut stream,
                                Token(token),
                                Interest::READABLE,
                            )?;
                            conns.insert(
                                token,
                                Conn {
                                    stream,
                                    decoder: RecordDecoder::new(RECORD_BYTES_MAX_DEFAULT),
                                    input: vec![0; READ_CHUNK_BYTES],
                                    output: Vec::with_capacity(READ_CHUNK_BYTES),
                                },
                            );
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            let token = event.token().0;
            let keep = conns.get_mut(&token).is_some_and(serve_readable);
            if !keep {
                if let Some(mut conn) = conns.remove(&token) {
                    let _ = poll.registry().deregister(&mut conn.stream);
                }
            }
        }
    }
}

/// Reads what is there, answers every whole record, writes the answers; false once the
/// connection is done.
fn serve_readable(conn: &mut Conn) -> bool {
    loop {
        let n = match conn.stream.read(&mut conn.input) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return false,
        };
        let mut at = 0;
        while at < n {
            let (used, record) = match conn.decoder.decode(&conn.input[at..n]) {
                Ok(step) => step,
                Err(_) => return false,
            };
            at += used;
            if let Some(record) = record {
                let Some(xid) = record.get(..4) else {
                    return false;
                };
                conn.output
                    .extend_from_slice(&(0x8000_0000u32 | (REPLY_BYTES - 4) as u32).to_be_bytes());
                conn.output.extend_from_slice(xid);
                conn.output.extend_from_slice(&REPLY_TAIL);
            }
        }
        // Blocking-style write of a small batch: the client reads while it waits for replies.
        let mut written = 0;
        while written < conn.output.len() {
            match conn.stream.write(&conn.output[written..]) {
                Ok(0) => return false,
                Ok(w) => written += w,
                Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        conn.output.clear();
        if n < conn.input.len() {
            return true;
        }
    }
}
