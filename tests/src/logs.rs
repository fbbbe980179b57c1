//! Capturing this test process's `tracing` output, to assert on what was logged.

use std::{
    io,
    sync::{Arc, Mutex, OnceLock},
};

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

static LOGS: OnceLock<LogBuffer> = OnceLock::new();

/// Captures every `tracing` event of this test process; call before starting servers.
pub fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = LogBuffer::default();
        let writer = buffer.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        buffer
    });
}

/// Everything logged so far.
pub fn logs() -> String {
    LOGS.get()
        .map(|buffer| String::from_utf8_lossy(&buffer.0.lock().expect("log lock")).into_owned())
        .unwrap_or_default()
}
