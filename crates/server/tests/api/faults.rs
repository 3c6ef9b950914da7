//! A fault-injecting TCP proxy the tests own, between Rouge and a real service (Redis,
//! PostgreSQL): it passes traffic, or cuts it. Cutting never touches the shared service that
//! other tests use.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Traffic flows.
    Pass,
    /// Connections are accepted and then hear nothing, like a host that vanished (the slow
    /// failure: only timeouts notice it).
    Blackhole,
    /// Connections are accepted and closed at once.
    Refuse,
    /// Nothing listens: connections are refused, like a database that is restarting.
    Down,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    /// Client sockets kept open and silent while black-holed.
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl FaultProxy {
    /// A proxy to `target`, passing traffic.
    pub async fn start(target: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(Mode::Pass);
        let held = Arc::new(Mutex::new(vec![]));
        let (target, keep) = (target.to_owned(), held.clone());
        tokio::spawn(async move {
            let mut listener = Some(listener);
            let mut modes = rx.clone();
            loop {
                let Some(l) = listener.as_ref() else {
                    // Down: nothing listens until traffic may pass again.
                    if modes.changed().await.is_err() {
                        return;
                    }
                    if *modes.borrow() != Mode::Down {
                        listener = TcpListener::bind(addr).await.ok();
                    }
                    continue;
                };
                tokio::select! {
                    accepted = l.accept() => {
                        let Ok((client, _)) = accepted else { return };
                        match *rx.borrow() {
                            Mode::Refuse | Mode::Down => drop(client),
                            Mode::Blackhole => keep.lock().unwrap().push(client),
                            Mode::Pass => {
                                tokio::spawn(forward(client, target.clone(), rx.clone(), keep.clone()));
                            }
                        }
                    }
                    changed = modes.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        if *modes.borrow() == Mode::Down {
                            listener = None;
                        }
                    }
                }
            }
        });
        FaultProxy { addr, mode: tx, held }
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }

    /// Changes what happens to new and open connections.
    pub fn set(&self, mode: Mode) {
        if mode == Mode::Pass {
            self.held.lock().unwrap().clear();
        }
        let _ = self.mode.send(mode);
    }
}

async fn forward(
    mut client: TcpStream,
    target: String,
    mut mode: watch::Receiver<Mode>,
    held: Arc<Mutex<Vec<TcpStream>>>,
) {
    let Ok(mut upstream) = TcpStream::connect(&target).await else { return };
    let cut = async {
        loop {
            if mode.changed().await.is_err() {
                return Mode::Refuse;
            }
            let m = *mode.borrow();
            if m != Mode::Pass {
                return m;
            }
        }
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
        m = cut => {
            drop(upstream);
            if m == Mode::Blackhole {
                held.lock().unwrap().push(client);
            }
        }
    }
}
