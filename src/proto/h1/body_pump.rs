//! Moving an outgoing body, frame by frame, through its encoder into the output buffer.
//!
//! Both roles send a body the same way: poll it for a frame only while the output buffer has
//! room, frame data with the message's [`BodyEncoder`], send trailers when allowed, and end
//! the body when the stream ends or the declared length is reached. The pump holds the body in
//! one box for the connection's whole life, so the connection stays `Unpin` without an
//! allocation per message.
use std::error::Error as StdError;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body::Body;

use super::framing::encode::BodyEncoder;
use super::out_buf::OutBuf;
use crate::error::{Error, User};

/// Where a body's encoding stands after a step.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pumped {
    /// Bytes or state changed; call again.
    More,
    /// The body was encoded completely.
    Finished {
        /// The peer can only find the body's end by the connection closing.
        ends_by_closing: bool,
    },
}

/// The outgoing body of one connection's current message, and its encoder.
///
/// It owns the body from [`start`](Self::start) until the body ends, fails or is
/// [`stop`](Self::stop)ped, and the message's [`BodyEncoder`] until the framing is complete.
/// It writes only into the [`OutBuf`] it is handed, never to the IO. Guarantees:
///
/// - the body is polled only while the output buffer [`has_room`](OutBuf::has_room), so a
///   fast body cannot grow the buffer past its limit;
/// - bytes enter the buffer only framed by the encoder, and no more than a declared length:
///   once it is reached the body is dropped unread (`Finished`);
/// - `Finished` is returned only after the framing that ends the body was encoded (the last
///   chunk, trailers when allowed and announced); a body ending before its declared length
///   is the user error `BodyWriteAborted` instead, and a body's own error is a user body
///   error, each after dropping the body;
/// - `Finished { ends_by_closing: true }` tells the driver that only closing the connection
///   marks the end of this body.
pub(crate) struct BodyPump<B> {
    body: Pin<Box<Option<B>>>,
    encoder: Option<BodyEncoder>,
}

impl<B> BodyPump<B>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    pub(crate) fn new() -> Self {
        BodyPump {
            body: Box::pin(None),
            encoder: None,
        }
    }

    /// Starts a message body; `body` is `None` when it is known to be empty (the encoder may
    /// still have framing to write, such as the last chunk).
    pub(crate) fn start(&mut self, encoder: BodyEncoder, body: Option<B>) {
        self.body.set(body);
        self.encoder = Some(encoder);
    }

    /// Encodes what the body has ready. `Pending` when the body is not ready (its waker is
    /// registered) or the buffer is full (the caller writes, then calls again).
    pub(crate) fn poll_pump(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut OutBuf<B::Data>,
        trailers_allowed: bool,
        title_case: bool,
    ) -> Poll<crate::Result<Pumped>> {
        let Some(encoder) = &mut self.encoder else {
            return Poll::Ready(Ok(Pumped::Finished {
                ends_by_closing: false,
            }));
        };
        if encoder.is_complete() {
            return Poll::Ready(Ok(self.finish()));
        }
        let Some(body) = self.body.as_mut().as_pin_mut() else {
            return Poll::Ready(self.end(out));
        };
        if !out.has_room() {
            return Poll::Pending;
        }
        let frame = match body.poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                self.body.set(None);
                return Poll::Ready(self.end(out));
            }
            Poll::Ready(Some(Err(e))) => {
                self.stop();
                return Poll::Ready(Err(Error::new_user_body(e)));
            }
            Poll::Ready(Some(Ok(frame))) => frame,
        };
        let ended = self
            .body
            .as_ref()
            .get_ref()
            .as_ref()
            .is_none_or(|b| b.is_end_stream());
        match frame.into_data() {
            Ok(data) => {
                if data.has_remaining() {
                    encoder.encode_data(data, out);
                    if encoder.is_complete() {
                        // The declared length is reached: whatever else the body holds is not
                        // part of this message.
                        return Poll::Ready(Ok(self.finish()));
                    }
                }
                if ended {
                    self.body.set(None);
                    return Poll::Ready(self.end(out));
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    self.body.set(None);
                    if trailers_allowed && encoder.encode_trailers(&trailers, title_case, out) {
                        return Poll::Ready(Ok(self.finish()));
                    }
                    return Poll::Ready(self.end(out));
                }
                // Frames of kinds this protocol cannot carry are skipped.
            }
        }
        Poll::Ready(Ok(Pumped::More))
    }

    /// Writes whatever ends the body; an error if its declared length was not reached.
    fn end(&mut self, out: &mut OutBuf<B::Data>) -> crate::Result<Pumped> {
        let Some(encoder) = &mut self.encoder else {
            return Ok(self.finish());
        };
        match encoder.encode_end(out) {
            Ok(()) => Ok(self.finish()),
            Err(early) => {
                self.stop();
                Err(Error::new_user(User::BodyWriteAborted).with(early))
            }
        }
    }

    fn finish(&mut self) -> Pumped {
        self.body.set(None);
        let ends_by_closing = self.encoder.take().is_some_and(|e| e.ends_by_closing());
        Pumped::Finished { ends_by_closing }
    }

    /// Drops the body without ending it.
    pub(crate) fn stop(&mut self) {
        self.body.set(None);
        self.encoder = None;
    }
}
