//! `serve::run` started in-process on a runtime of its own, for the library
//! suites that drive the service over real HTTP without the binary: the
//! store and extra config given, mail to a port nobody answers (the relay is
//! down: feeds are served anyway), stopped through its `Control` when
//! dropped or by [`InProcess::stop`].

use crate::support::harness::{get, status_of, write_config};
use crate::support::mailtest::refusing_port;
use bantin::serve::{self, Control, Options, ServeError};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

pub struct InProcess {
    rt: Option<tokio::runtime::Runtime>,
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    running: Option<tokio::task::JoinHandle<Result<(), ServeError>>>,
    /// A port nobody answers on (the relay; a hub), held while running.
    _refusing: tokio::net::TcpSocket,
    pub refusing: SocketAddr,
}

impl InProcess {
    /// Serves `store` with the config `extra(refusing port)` (written in
    /// `dir`), once `/feed.xml` answers 200.
    pub fn start(dir: &Path, store: &Path, extra: impl Fn(SocketAddr) -> String) -> InProcess {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (socket, refusing) = rt.block_on(async { refusing_port() });
        let config = write_config(dir, store, &format!("smtp://{refusing}"), &extra(refusing));
        let settings = bantin::config::load(&config).expect("the test config is valid");
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (_reload, reloads) = tokio::sync::mpsc::unbounded_channel();
        let control = Control::new(
            async move {
                let _ = stopped.await;
            },
            reloads,
        );
        let running = rt.spawn(serve::run(settings, listener, control, Options::default()));
        let started = Instant::now();
        while status_of(&get(addr, "/feed.xml")) != 200 {
            assert!(started.elapsed() < Duration::from_secs(60), "the feeds did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        InProcess { rt: Some(rt), addr, stop: Some(stop), running: Some(running), _refusing: socket, refusing }
    }

    /// Stops the service and returns what `serve::run` returned; panics if
    /// it takes over 15 s or the task panicked.
    pub fn stop(mut self) -> Result<(), ServeError> {
        let (Some(stop), Some(running), Some(rt)) = (self.stop.take(), self.running.take(), self.rt.take()) else {
            unreachable!("stop takes the service once")
        };
        let _ = stop.send(());
        let result = rt.block_on(async { tokio::time::timeout(Duration::from_secs(15), running).await });
        let outcome = result.expect("serve::run returns within 15 s of the stop").expect("the service task did not panic");
        rt.shutdown_timeout(Duration::from_secs(1));
        outcome
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}
