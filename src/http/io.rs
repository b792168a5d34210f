//! The connection's stream as hyper gets it after a hand-over from the
//! front ([`Rewind`]: the bytes the front read come first), and the write
//! progress deadline both paths hold every response to: a write that
//! makes no progress for `http.write_timeout` fails with `TimedOut`, and
//! the connection is dropped. hyper has no write timeout of its own; a
//! client that asks for a feed and never reads would otherwise hold its
//! connection (and the response in the send buffer) for ever.

use futures_util::FutureExt as _;
use prometheus_client::metrics::counter::Counter;
use std::future::Future;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// `io`, one step of a write (a write call, or waiting for the socket to
/// take more), failed with `TimedOut` if it takes longer than `limit`;
/// each step that completes is progress and the next has `limit` anew.
pub(super) async fn progress<T>(limit: Duration, io: impl Future<Output = std::io::Result<T>>) -> std::io::Result<T> {
    let mut io = std::pin::pin!(io);
    // Nearly every step is done at once: the timer (a clock read, the
    // runtime's handle, an entry made and dropped) is made only for one
    // that has to wait, whose next poll registers this task's waker.
    if let Some(done) = io.as_mut().now_or_never() {
        return done;
    }
    tokio::time::timeout(limit, io).await.unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

/// A stream whose first reads give back bytes already read from it, and
/// whose writes fail once they have made no progress for the write limit.
pub struct Rewind {
    prefix: Vec<u8>,
    at: usize,
    inner: TcpStream,
    write_timeout: Duration,
    /// Made at the first stall, then reset: armed while a write waits.
    stall: Option<Pin<Box<Sleep>>>,
    armed: bool,
    timeouts: Counter,
}

impl Rewind {
    /// `timeouts` counts the connections dropped for want of progress.
    pub fn new(prefix: Vec<u8>, inner: TcpStream, write_timeout: Duration, timeouts: Counter) -> Rewind {
        Rewind { prefix, at: 0, inner, write_timeout, stall: None, armed: false, timeouts }
    }

    /// A write's result through the deadline: ready disarms it; pending
    /// arms it (once per stall) and fails the write when it has passed.
    fn deadline<T>(&mut self, cx: &mut Context<'_>, polled: Poll<std::io::Result<T>>) -> Poll<std::io::Result<T>> {
        if polled.is_ready() {
            self.armed = false;
            return polled;
        }
        let until = Instant::now() + self.write_timeout;
        let stall = match &mut self.stall {
            Some(s) => {
                if !self.armed {
                    s.as_mut().reset(until);
                }
                s
            }
            None => self.stall.insert(Box::pin(tokio::time::sleep_until(until))),
        };
        self.armed = true;
        if stall.as_mut().poll(cx).is_ready() {
            self.timeouts.inc();
            return Poll::Ready(Err(std::io::ErrorKind::TimedOut.into()));
        }
        Poll::Pending
    }
}

impl AsyncRead for Rewind {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        if me.at < me.prefix.len() {
            let n = (me.prefix.len() - me.at).min(out.remaining());
            out.put_slice(&me.prefix[me.at..me.at + n]);
            me.at += n;
            if me.at == me.prefix.len() {
                me.prefix = Vec::new();
                me.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut me.inner).poll_read(cx, out)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let me = self.get_mut();
        let polled = Pin::new(&mut me.inner).poll_write(cx, buf);
        me.deadline(cx, polled)
    }
    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        let me = self.get_mut();
        let polled = Pin::new(&mut me.inner).poll_write_vectored(cx, bufs);
        me.deadline(cx, polled)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
