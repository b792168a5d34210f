//! The accept loops: one hyper http1 loop per core, each on its own
//! single-threaded runtime sharing the listening socket (nginx's worker
//! model), with the connection limits (all, and per client), header
//! timeout, write deadline and graceful drain of [`Limits`].

use super::*;
use hyper_util::server::graceful::Watcher;
use tokio::net::TcpStream;

/// Serves `app` on `listener` until `shutdown` turns true, then drains.
///
/// One accept loop per core, each on its own single-threaded runtime, as
/// nginx runs one worker per core: on the shared multi-threaded runtime
/// one worker waited in epoll for all connections and woke the other
/// through a futex to share the work, so under load the server used about
/// half a core while nginx used both (issue 6 profile). Requests that go
/// through the router still run on the calling (main) runtime. The
/// listening socket is shared; a loop holding more connections than the
/// others lets them take the next ones.
pub async fn serve(listener: TcpListener, app: Hot, limits: Limits, shutdown: watch::Receiver<bool>) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let clients = client::PerClient::new(limits.max_connections_per_ip);
    let app = Hot { routed_on: Some(tokio::runtime::Handle::current()), ..app };
    let live: Arc<[AtomicUsize]> = (0..cores).map(|_| AtomicUsize::new(0)).collect();
    let std_listener = match listener.into_std() {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("the HTTP listener cannot be shared between threads ({e}); serving on one");
            return;
        }
    };
    let mut done = Vec::new();
    for i in 0..cores {
        let started = (|| -> std::io::Result<tokio::sync::oneshot::Receiver<()>> {
            let listener = std_listener.try_clone()?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let (tx, rx) = tokio::sync::oneshot::channel();
            let (app, limits, shutdown, slots, live) = (app.clone(), limits.clone(), shutdown.clone(), slots.clone(), live.clone());
            let clients = Arc::clone(&clients);
            std::thread::Builder::new().name(format!("bantin-http-{i}")).spawn(move || {
                rt.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(l) => accept_loop(l, app, limits, Admission { slots, clients }, shutdown, Balance { live, me: i }).await,
                        Err(e) => tracing::error!("HTTP thread {i}: cannot use the listener: {e}"),
                    }
                });
                drop(tx);
            })?;
            Ok(rx)
        })();
        match started {
            Ok(rx) => done.push(rx),
            Err(e) => tracing::error!("cannot start HTTP thread {i}: {e}"),
        }
    }
    if done.is_empty() {
        // No thread could start: serve from this runtime rather than not at all.
        match TcpListener::from_std(std_listener) {
            Ok(l) => accept_loop(l, app, limits, Admission { slots, clients }, shutdown, Balance { live, me: 0 }).await,
            Err(e) => tracing::error!("cannot serve HTTP: {e}"),
        }
        return;
    }
    drop(std_listener);
    for rx in done {
        let _ = rx.await;
    }
}

/// Connections held by each accept loop of [`serve`].
struct Balance {
    live: Arc<[AtomicUsize]>,
    me: usize,
}

impl Balance {
    /// Whether this loop holds more than its share, so it should let the
    /// others accept first (the kernel wakes every loop for a new client).
    fn ahead(&self) -> bool {
        let min = self.live.iter().map(|n| n.load(Ordering::Relaxed)).min().unwrap_or(0);
        self.live[self.me].load(Ordering::Relaxed) > min + 1
    }
}

/// Who may hold a connection: a slot of `max_connections`, and a place
/// among its client's `max_connections_per_ip`.
struct Admission {
    slots: Arc<Semaphore>,
    clients: Arc<client::PerClient>,
}

async fn accept_loop(listener: TcpListener, app: Hot, limits: Limits, admission: Admission, mut shutdown: watch::Receiver<bool>, balance: Balance) {
    let Admission { slots, clients } = admission;
    let graceful = GracefulShutdown::new();
    let stop = Arc::new(wait::Stop::default());
    let balance = Arc::new(balance);
    loop {
        if balance.ahead() {
            // Give the other loops a moment to take the next client; then
            // accept anyway rather than leave one waiting.
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = tokio::time::sleep(Duration::from_millis(1)) => {}
            }
        }
        let permit = tokio::select! {
            _ = shutdown.changed() => break,
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Over its client's share: closed at once, before any read or task
        // (trusted proxies carry many clients and are not held to it).
        let held = if app.proxies.trusts(peer.ip()) { None } else {
            match clients.admit(peer.ip()) {
                Some(held) => Some(held),
                None => {
                    app.shared.metrics.refused_per_ip.inc();
                    drop(stream);
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let service = app.for_peer(peer);
        let watcher = graceful.watcher();
        let (limits, stop) = (limits.clone(), Arc::clone(&stop));
        let balance = Arc::clone(&balance);
        balance.live[balance.me].fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            connection(stream, service, &limits, &stop, watcher).await;
            balance.live[balance.me].fetch_sub(1, Ordering::Relaxed);
            drop((permit, held));
        });
    }
    drop(listener);
    stop.stop();
    drain(graceful, &slots, &limits).await;
}

/// One connection: cached documents are answered by the front; the first
/// other request takes the connection to hyper. Client resets and
/// timeouts end here; they are not our errors.
async fn connection(stream: TcpStream, service: Hot, limits: &Limits, stop: &wait::Stop, watcher: Watcher) {
    let front = front::serve(stream, &service, limits, stop).await;
    if let front::Front::Handover { stream, buffered } = front {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(limits.max_header_bytes.max(8192))
            .keep_alive(true);
        let timeouts = service.shared.metrics.write_timeouts.clone();
        let io = io::Rewind::new(buffered, stream, limits.write_timeout, timeouts);
        let conn = builder.serve_connection(TokioIo::new(io), service);
        let _ = watcher.watch(conn).await;
    }
}

/// After the accept loop stopped: hyper's connections are told to finish
/// and close; the front's were told by the loop's [`wait::Stop`]. Every
/// connection holds a slot until it ends, so all slots back means every
/// connection of every loop is done.
async fn drain(graceful: GracefulShutdown, slots: &Semaphore, limits: &Limits) {
    tracing::info!("stopped accepting connections; waiting for requests in flight");
    let drained = async {
        graceful.shutdown().await;
        let _ = slots.acquire_many(u32::try_from(limits.max_connections).unwrap_or(u32::MAX)).await;
    };
    if tokio::time::timeout(limits.shutdown_grace, drained).await.is_err() {
        tracing::warn!(
            "requests still in flight after {} s; closing them",
            limits.shutdown_grace.as_secs()
        );
    }
}

