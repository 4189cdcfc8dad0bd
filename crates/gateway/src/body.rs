//! Body types: the boxed body the pipeline passes around, and a body that
//! checks the client's payload-hash claim while it streams.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};

use sha2::{Digest, Sha256};

/// Errors inside bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of every request and response in the pipeline.
pub type GatewayBody = UnsyncBoxBody<Bytes, BoxError>;

/// A body holding `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> GatewayBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> GatewayBody {
    full(Bytes::new())
}

/// Raised when the streamed body does not hash to the signed claim; the
/// upstream request is aborted instead of completing with a forged body.
#[derive(Debug, thiserror::Error)]
#[error("XAmzContentSHA256Mismatch: the body does not match the signed x-amz-content-sha256")]
pub struct PayloadHashMismatch;

/// A request body on its way upstream: counts its bytes into `counter` for
/// the audit event and, when the client claimed a payload hash, hashes it
/// and fails at the end if the digest differs from the claim.
pub struct MeteredBody<B> {
    inner: B,
    /// The running digest and the claimed one; `None` once checked, or when
    /// there is no claim to check.
    check: Option<(Sha256, [u8; 32])>,
    counter: Arc<AtomicU64>,
}

impl<B> MeteredBody<B> {
    /// Counts and checks `inner` against the claimed digest `expected`.
    pub fn hash_checked(inner: B, expected: [u8; 32], counter: Arc<AtomicU64>) -> Self {
        Self {
            inner,
            check: Some((Sha256::new(), expected)),
            counter,
        }
    }

    /// Only counts `inner` (unsigned payloads).
    pub fn counting(inner: B, counter: Arc<AtomicU64>) -> Self {
        Self {
            inner,
            check: None,
            counter,
        }
    }

    /// Finalises the digest (once) and says whether it differs from the claim.
    fn finish_mismatched(&mut self) -> bool {
        match self.check.take() {
            Some((h, expected)) => <[u8; 32]>::from(h.finalize()) != expected,
            None => false,
        }
    }
}

impl<B> Body for MeteredBody<B>
where
    B: Body<Data = Bytes, Error = BoxError> + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.counter.fetch_add(data.len() as u64, Ordering::Relaxed);
                    if let Some((h, _)) = &mut this.check {
                        h.update(data);
                    }
                }
                // With a known length the consumer stops polling after the
                // last byte, so check on the last frame and withhold it.
                if this.inner.is_end_stream() && this.finish_mismatched() {
                    return Poll::Ready(Some(Err(Box::new(PayloadHashMismatch))));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) if this.finish_mismatched() => {
                Poll::Ready(Some(Err(Box::new(PayloadHashMismatch))))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        // Not until the digest has been checked.
        self.check.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Reads a whole body, refusing more than `limit` bytes.
pub async fn collect_limited(mut body: GatewayBody, limit: usize) -> Result<Bytes, CollectError> {
    if body.size_hint().lower() > limit as u64 {
        return Err(CollectError::TooLarge);
    }
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(CollectError::Read)?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(CollectError::TooLarge);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// Why a body could not be buffered.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// Larger than the configured limit.
    #[error("request body exceeds the buffered-body limit")]
    TooLarge,
    /// The client connection failed.
    #[error("reading the request body failed: {0}")]
    Read(BoxError),
}

/// A body whose first bytes were already read (to classify the call),
/// replayed before the rest.
pub struct PrefixedBody {
    prefix: Option<Bytes>,
    trailers: Option<http::HeaderMap>,
    inner: Option<GatewayBody>,
}

impl Body for PrefixedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Some(prefix) = this.prefix.take() {
            if !prefix.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(prefix))));
            }
        }
        if let Some(inner) = &mut this.inner {
            return Pin::new(inner).poll_frame(cx);
        }
        Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.as_ref().is_none_or(Bytes::is_empty)
            && self.trailers.is_none()
            && self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let prefix = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        match &self.inner {
            Some(inner) => {
                let h = inner.size_hint();
                let mut out = SizeHint::new();
                out.set_lower(h.lower() + prefix);
                if let Some(upper) = h.upper() {
                    out.set_upper(upper + prefix);
                }
                out
            }
            None => SizeHint::with_exact(prefix),
        }
    }
}

/// Reads up to `limit` bytes from the front of `body`. Returns the prefix,
/// whether it is the whole body, and a body that replays everything.
pub async fn peek_prefix(
    mut body: GatewayBody,
    limit: usize,
) -> Result<(Bytes, bool, GatewayBody), BoxError> {
    if body.is_end_stream() {
        return Ok((Bytes::new(), true, body));
    }
    if limit == 0 {
        return Ok((Bytes::new(), false, body));
    }
    let mut buf = bytes::BytesMut::new();
    let mut trailers = None;
    let mut complete = false;
    while buf.len() < limit {
        match body.frame().await {
            None => {
                complete = true;
                break;
            }
            Some(frame) => match frame?.into_data() {
                Ok(data) => buf.extend_from_slice(&data),
                Err(frame) => {
                    trailers = frame.into_trailers().ok();
                    complete = true;
                    break;
                }
            },
        }
    }
    let prefix = buf.freeze();
    let replay = PrefixedBody {
        prefix: Some(prefix.clone()),
        trailers,
        inner: (!complete).then_some(body),
    };
    Ok((prefix, complete, replay.boxed_unsync()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn mismatched_body_fails_at_the_end() {
        let good: [u8; 32] = Sha256::digest(b"hello").into();
        let counter = Arc::new(AtomicU64::new(0));
        let ok =
            MeteredBody::hash_checked(full(Bytes::from_static(b"hello")), good, counter.clone());
        assert_eq!(ok.collect().await.expect("matches").to_bytes(), "hello");
        assert_eq!(counter.load(Ordering::Relaxed), 5);
        let bad = MeteredBody::hash_checked(full(Bytes::from_static(b"hellO")), good, counter);
        let err = bad.collect().await.expect_err("mismatch");
        assert!(err.is::<PayloadHashMismatch>());
    }

    #[tokio::test]
    async fn peeked_bodies_replay_whole() {
        let (prefix, complete, rest) = peek_prefix(full(Bytes::from_static(b"hello world")), 4)
            .await
            .expect("peek");
        assert!(!complete || prefix.len() == 11);
        assert_eq!(
            rest.collect().await.expect("replay").to_bytes(),
            "hello world"
        );
        let (prefix, complete, rest) = peek_prefix(full(Bytes::from_static(b"abc")), 1024)
            .await
            .expect("peek");
        assert_eq!((prefix.as_ref(), complete), (&b"abc"[..], true));
        assert_eq!(rest.collect().await.expect("replay").to_bytes(), "abc");
    }

    #[tokio::test]
    async fn limit() {
        let body = full(Bytes::from(vec![0u8; 100]));
        assert!(matches!(
            collect_limited(body, 99).await,
            Err(CollectError::TooLarge)
        ));
        let body = full(Bytes::from(vec![0u8; 100]));
        assert_eq!(collect_limited(body, 100).await.expect("fits").len(), 100);
    }
}
