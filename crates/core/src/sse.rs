//! A sans-IO parser for server-sent events (the push channel's wire format): feed it bytes as
//! they arrive, take out complete events.

/// Longest line accepted; a longer one means the stream is not what we expect.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    event: String,
    data: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("push channel line longer than {MAX_LINE_BYTES} bytes")]
pub struct LineTooLong;

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, LineTooLong> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line);
            if line.is_empty() {
                if !self.data.is_empty() {
                    out.push(SseEvent { event: std::mem::take(&mut self.event), data: self.data.join("\n") });
                }
                self.data.clear();
                self.event.clear();
            } else if line.starts_with(':') {
                // comment / keep-alive
            } else {
                let (field, value) = line.split_once(':').unwrap_or((&line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => self.event = value.to_owned(),
                    "data" => self.data.push(value.to_owned()),
                    _ => {}
                }
            }
        }
        if self.buf.len() > MAX_LINE_BYTES {
            return Err(LineTooLong);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_events_split_anywhere() {
        let text =
            b": keep-alive\n\nevent: challenge\ndata: {\"a\":1}\n\nevent: resolved\r\ndata: x\r\ndata: y\r\n\r\n";
        for split in 0..text.len() {
            let mut p = SseParser::new();
            let mut events = p.push(&text[..split]).unwrap();
            events.extend(p.push(&text[split..]).unwrap());
            assert_eq!(
                events,
                vec![
                    SseEvent { event: "challenge".into(), data: "{\"a\":1}".into() },
                    SseEvent { event: "resolved".into(), data: "x\ny".into() },
                ]
            );
        }
    }

    #[test]
    fn refuses_endless_lines() {
        let mut p = SseParser::new();
        assert_eq!(p.push(&vec![b'a'; MAX_LINE_BYTES + 1]), Err(LineTooLong));
    }

    proptest! {
        #[test]
        fn never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16)) {
            let mut p = SseParser::new();
            for c in chunks {
                let _ = p.push(&c);
            }
        }
    }
}
