//! A TCP proxy that can cut a service off, or make it hang, as an outage would.

use std::net::SocketAddr;

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwards both ways.
    Up,
    /// Cuts every open connection and refuses new ones: a server that went away.
    Refusing,
    /// Accepts connections and keeps them open, but nothing goes through either way: a
    /// network that drops packets, where only a timeout ends the wait. Leaving this mode cuts
    /// the connections it held.
    Blackhole,
}

/// A TCP proxy on an ephemeral loopback port to `upstream`, switched between [`Mode`]s by the
/// test.
#[derive(Clone)]
pub struct Proxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (mode, _) = watch::channel(Mode::Up);
        let proxy = Self { addr, mode };
        let state = proxy.mode.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut changes = state.subscribe();
                let mode = *changes.borrow_and_update();
                match mode {
                    Mode::Refusing => drop(client),
                    Mode::Blackhole => {
                        tokio::spawn(async move {
                            let _ = changes.wait_for(|mode| *mode != Mode::Blackhole).await;
                            drop(client);
                        });
                    }
                    Mode::Up => {
                        tokio::spawn(async move {
                            let Ok(mut server) = TcpStream::connect(upstream).await else {
                                return;
                            };
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {
                                    return;
                                }
                                _ = changes.wait_for(|mode| *mode != Mode::Up) => {}
                            }
                            // Held open, silent, for as long as the blackhole lasts.
                            if *changes.borrow() == Mode::Blackhole {
                                let _ = changes.wait_for(|mode| *mode != Mode::Blackhole).await;
                            }
                        });
                    }
                }
            }
        });
        proxy
    }

    pub fn set_mode(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Up, or refusing everything.
    pub fn set_up(&self, up: bool) {
        self.set_mode(if up { Mode::Up } else { Mode::Refusing });
    }
}
