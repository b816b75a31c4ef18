//! Streaming XML plumbing shared by the metadata readers: an event pump that
//! turns quick-xml events into element starts, ends and accumulated text, and
//! maps every failure to [`Error::Xml`] naming the file and position.

use crate::error::{Error, Result};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// One step of the document, borrowed from the pump's buffer.
pub(crate) enum Step {
    /// `<name ...>`; `empty` when self-closing (no End follows).
    Start {
        elem: BytesStart<'static>,
        empty: bool,
    },
    /// `</name>` (also reported right after an empty element).
    End { local: Vec<u8> },
    /// End of document.
    Eof,
}

/// Pulls element events and collects character data between them.
pub(crate) struct XmlIn<R: BufRead> {
    reader: Reader<R>,
    buf: Vec<u8>,
    path: PathBuf,
    /// Text collected since the last element start or end.
    pub text: String,
    pending_end: Option<Vec<u8>>,
    depth: usize,
}

impl<R: BufRead> XmlIn<R> {
    pub(crate) fn new(inner: R, path: &Path) -> Self {
        let reader = Reader::from_reader(inner);
        XmlIn {
            reader,
            buf: Vec::with_capacity(8192),
            path: path.to_path_buf(),
            text: String::new(),
            pending_end: None,
            depth: 0,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// An [`Error::Xml`] at the current position.
    pub(crate) fn err(&self, message: impl Into<String>) -> Error {
        Error::Xml {
            path: self.path.clone(),
            position: self.reader.buffer_position(),
            message: message.into(),
        }
    }

    /// The next element start or end. Text in between accumulates in `self.text`
    /// (cleared at every start).
    pub(crate) fn next(&mut self) -> Result<Step> {
        if let Some(local) = self.pending_end.take() {
            return Ok(Step::End { local });
        }
        loop {
            self.buf.clear();
            let ev = match self.reader.read_event_into(&mut self.buf) {
                Ok(ev) => ev,
                Err(e) => {
                    return Err(Error::Xml {
                        path: self.path.clone(),
                        position: self.reader.error_position(),
                        message: e.to_string(),
                    })
                }
            };
            match ev {
                Event::Start(_) | Event::Empty(_) => {
                    let empty = matches!(ev, Event::Empty(_));
                    let elem = match ev {
                        Event::Start(e) | Event::Empty(e) => e,
                        _ => unreachable!("matched above"),
                    };
                    self.text.clear();
                    if empty {
                        self.pending_end = Some(elem.local_name().as_ref().as_bytes().to_vec());
                    } else {
                        self.depth += 1;
                    }
                    return Ok(Step::Start {
                        elem: elem.into_owned(),
                        empty,
                    });
                }
                Event::End(e) => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(Step::End {
                        local: e.local_name().as_ref().as_bytes().to_vec(),
                    });
                }
                Event::Text(t) => self.text.push_str(&t.xml10_content()),
                Event::CData(c) => self.text.push_str(&c.xml10_content()),
                Event::GeneralRef(r) => {
                    if let Ok(Some(ch)) = r.resolve_char_ref() {
                        self.text.push(ch);
                    } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                        self.text.push_str(s);
                    } else {
                        return Err(Error::Xml {
                            path: self.path.clone(),
                            position: self.reader.buffer_position(),
                            message: format!("unknown entity &{};", &*r),
                        });
                    }
                }
                Event::Eof => {
                    if self.depth != 0 {
                        return Err(self.err("unexpected end of document (unclosed elements)"));
                    }
                    return Ok(Step::Eof);
                }
                _ => {}
            }
        }
    }
}

/// Reads an attribute by qualified name (`href`, `xml:base`), unescaped.
pub(crate) fn attr(elem: &BytesStart<'_>, name: &str, path: &Path) -> Result<Option<String>> {
    for a in elem.attributes() {
        let a = a.map_err(|e| Error::Xml {
            path: path.to_path_buf(),
            position: 0,
            message: format!("bad attribute: {e}"),
        })?;
        if a.key.as_ref() == name {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| Error::Xml {
                    path: path.to_path_buf(),
                    position: 0,
                    message: format!("bad value of attribute {name}: {e}"),
                })?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

/// Parses an unsigned number attribute; absent → `None`.
pub(crate) fn num_attr(elem: &BytesStart<'_>, name: &str, path: &Path) -> Result<Option<u64>> {
    match attr(elem, name, path)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => s.trim().parse().map(Some).map_err(|_| Error::Xml {
            path: path.to_path_buf(),
            position: 0,
            message: format!("attribute {name}={s:?} is not a number"),
        }),
    }
}
