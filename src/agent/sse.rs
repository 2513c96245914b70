//! Server-sent events read from bytes as they arrive, as the HTML standard
//! describes the format: lines ending in CR LF, LF or CR, `field: value`
//! pairs, comments starting with `:`, an event dispatched at a blank line.

/// The longest line accepted; a server sending more is not a pop stream.
const MAX_LINE: usize = 1 << 20;

/// One event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    /// `message` when the server named none.
    pub event: String,
    pub data: String,
    /// The event's own id, when it carried one.
    pub id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("event stream line longer than {MAX_LINE} bytes")]
pub struct LineTooLong;

/// Reads frames out of the bytes of one connection.
#[derive(Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    /// The last line ended in CR: an LF right after it ends nothing.
    after_cr: bool,
    event: Option<String>,
    data: Option<String>,
    id: Option<String>,
}

impl Parser {
    pub fn new() -> Parser {
        Parser::default()
    }

    /// The events these bytes complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Frame>, LineTooLong> {
        let mut frames = Vec::new();
        for &byte in bytes {
            let after_cr = std::mem::replace(&mut self.after_cr, byte == b'\r');
            match byte {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => frames.extend(self.end_line()),
                _ if self.line.len() >= MAX_LINE => return Err(LineTooLong),
                _ => self.line.push(byte),
            }
        }
        Ok(frames)
    }

    fn end_line(&mut self) -> Option<Frame> {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            return self.dispatch();
        }
        let line = String::from_utf8_lossy(&line);
        let (field, value) = match line.split_once(':') {
            Some(("", _)) => return None,
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                let data = self.data.get_or_insert_with(String::new);
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<Frame> {
        let event = self.event.take();
        let id = self.id.take();
        let mut data = self.data.take()?;
        data.pop();
        Some(Frame {
            event: event
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "message".into()),
            data,
            id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(event: &str, data: &str, id: Option<&str>) -> Frame {
        Frame {
            event: event.into(),
            data: data.into(),
            id: id.map(Into::into),
        }
    }

    /// The same frames whichever way the bytes are cut.
    fn check(text: &str, expected: &[Frame]) {
        for size in [1, 2, 3, 7, text.len().max(1)] {
            let mut parser = Parser::new();
            let mut frames = Vec::new();
            for chunk in text.as_bytes().chunks(size) {
                frames.extend(parser.feed(chunk).unwrap());
            }
            assert_eq!(frames, expected, "in chunks of {size}: {text:?}");
        }
    }

    #[test]
    fn events_as_callpop_sends_them() {
        check(
            "event: snapshot\ndata: {\"calls\":[]}\n\n\
             id: 17\nevent: pop\ndata: {\"seq\":17}\n\n\
             : keep-alive\n\n",
            &[
                frame("snapshot", "{\"calls\":[]}", None),
                frame("pop", "{\"seq\":17}", Some("17")),
            ],
        );
    }

    #[test]
    fn every_line_ending_and_several_data_lines() {
        check(
            "data:a\r\ndata: b\rid:3\n\r\ndata\n\n",
            &[
                frame("message", "a\nb", Some("3")),
                frame("message", "", None),
            ],
        );
    }

    #[test]
    fn a_block_without_data_dispatches_nothing() {
        check(
            "event: pop\nid: 4\n\ndata: x\n\n",
            &[frame("message", "x", None)],
        );
    }

    #[test]
    fn an_unfinished_event_waits_for_its_blank_line() {
        let mut parser = Parser::new();
        assert_eq!(parser.feed(b"data: x\n").unwrap(), []);
        assert_eq!(parser.feed(b"\n").unwrap(), [frame("message", "x", None)]);
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut parser = Parser::new();
        let endless = vec![b'x'; MAX_LINE + 1];
        assert!(parser.feed(&endless).is_err());
    }
}
