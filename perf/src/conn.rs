//! One client connection: a non-blocking socket, its write batch, its reassembly state and
//! its calls in flight.
//!
//! The connection only moves bytes and keeps per-connection state; what a reply means and what
//! is counted is decided by the caller through [`ReplySink`]. Writes are batched: calls are
//! appended to one buffer and the buffer goes out in one `write`. Reads hand the thread's big
//! read buffer to the record decoder, which yields many replies per read.

use crate::args::Target;
use crate::call::CallEncoder;
use crate::inflight::InflightTable;
use brickd::proto::record::{RecordDecoder, RecordError, RECORD_BYTES_MAX_DEFAULT};
use mio::event::Source;
use mio::{Interest, Registry, Token};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpStream as StdTcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::time::{Duration, Instant};

/// How long one connect may take before the run gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A write buffer that grew past this is given back once drained.
const WRITE_BUFFER_BYTES_RETAINED: usize = 1 << 20;

/// A connected, non-blocking stream socket.
#[derive(Debug)]
pub enum Stream {
    /// TCP, with TCP_NODELAY set.
    Tcp(mio::net::TcpStream),
    /// Unix stream socket.
    Unix(mio::net::UnixStream),
}

impl Stream {
    /// Connects to `target` (blocking, with a timeout) and switches the socket to non-blocking.
    pub fn connect(target: &Target) -> io::Result<Stream> {
        match target {
            Target::Tcp { host, port } => {
                let mut last_error = None;
                for addr in (host.as_str(), *port).to_socket_addrs()? {
                    match StdTcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                        Ok(stream) => {
                            stream.set_nodelay(true)?;
                            stream.set_nonblocking(true)?;
                            return Ok(Stream::Tcp(mio::net::TcpStream::from_std(stream)));
                        }
                        Err(e) => last_error = Some(e),
                    }
                }
                Err(last_error
                    .unwrap_or_else(|| io::Error::new(ErrorKind::NotFound, "host has no address")))
            }
            Target::Unix(path) => {
                let stream = StdUnixStream::connect(path)?;
                stream.set_nonblocking(true)?;
                Ok(Stream::Unix(mio::net::UnixStream::from_std(stream)))
            }
        }
    }

    fn source(&mut self) -> &mut dyn Source {
        match self {
            Stream::Tcp(s) => s,
            Stream::Unix(s) => s,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Receives every reply record a connection reads, with the connection's calls in flight so
/// the record's call can be retired.
pub trait ReplySink {
    /// Handles one record that arrived at `received`.
    fn on_record(&mut self, record: &[u8], inflight: &mut InflightTable, received: Instant);
}

/// Why a connection stopped.
#[derive(Debug)]
pub enum ConnError {
    /// The server closed it.
    Closed,
    /// A socket error.
    Io(io::Error),
    /// The server sent a record larger than the cap.
    Record(RecordError),
}

/// One connection and its state.
pub struct Connection {
    stream: Stream,
    decoder: RecordDecoder,
    write_buf: Vec<u8>,
    write_pos: usize,
    /// Calls in flight.
    pub inflight: InflightTable,
}

impl Connection {
    /// Wraps a connected stream allowing `depth` calls in flight.
    pub fn new(stream: Stream, depth: usize) -> Self {
        Connection {
            stream,
            decoder: RecordDecoder::new(RECORD_BYTES_MAX_DEFAULT),
            write_buf: Vec::with_capacity(depth * 128),
            write_pos: 0,
            inflight: InflightTable::new(depth),
        }
    }

    /// Registers the socket for readable and writable edges under `token`.
    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(
            self.stream.source(),
            token,
            Interest::READABLE | Interest::WRITABLE,
        )
    }

    /// Removes the socket from the poller.
    pub fn deregister(&mut self, registry: &Registry) {
        let _ = registry.deregister(self.stream.source());
    }

    /// Starts a call sent (or due) at `sent` and queues it; false at the in-flight cap.
    pub fn queue_call(&mut self, encoder: &CallEncoder, sent: Instant) -> bool {
        match self.inflight.start(sent) {
            Some(xid) => {
                encoder.append(&mut self.write_buf, xid);
                true
            }
            None => false,
        }
    }

    /// Writes as much of the queued batch as the socket takes.
    pub fn flush(&mut self) -> Result<(), ConnError> {
        while self.write_pos < self.write_buf.len() {
            match self.stream.write(&self.write_buf[self.write_pos..]) {
                Ok(0) => return Err(ConnError::Closed),
                Ok(n) => self.write_pos += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(ConnError::Io(e)),
            }
        }
        self.write_pos = 0;
        if self.write_buf.capacity() > WRITE_BUFFER_BYTES_RETAINED {
            self.write_buf = Vec::new();
        } else {
            self.write_buf.clear();
        }
        Ok(())
    }

    /// Reads everything the socket has and hands each complete record to `sink`.
    ///
    /// Reading stops at a short read rather than at EAGAIN: on Linux every arrival of data
    /// raises a new edge for an edge-triggered epoll, so a short read means the socket is
    /// drained and the extra EAGAIN syscall would be pure cost.
    pub fn receive<S: ReplySink>(
        &mut self,
        read_buf: &mut [u8],
        sink: &mut S,
    ) -> Result<(), ConnError> {
        loop {
            let n = match self.stream.read(read_buf) {
                Ok(0) => return Err(ConnError::Closed),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(ConnError::Io(e)),
            };
            let received = Instant::now();
            let mut input = &read_buf[..n];
            while !input.is_empty() {
                let (used, record) = self.decoder.decode(input).map_err(ConnError::Record)?;
                if let Some(record) = record {
                    sink.on_record(record, &mut self.inflight, received);
                } else if used == 0 {
                    break;
                }
                input = &input[used..];
            }
            if n < read_buf.len() {
                return Ok(());
            }
        }
    }
}
