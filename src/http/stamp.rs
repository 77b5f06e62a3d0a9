//! One layer stamps every request with an id (the caller's `x-request-id`
//! if it fits a log line, or a new UUID) before its span opens, and echoes
//! it on the answer, with CORS's `Vary` (made once, not per answer).

use axum::body::Bytes;
use axum::http::header::VARY;
use axum::http::{HeaderName, HeaderValue, Request, Response};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// The request id header.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id kept from a caller, in bytes.
const MAX_REQUEST_ID_BYTES: usize = 128;

/// What CORS answers vary with, as `tower_http`'s CORS layer writes it.
const CORS_VARY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

/// What stamps the requests to `S` and its answers.
#[derive(Debug, Clone)]
pub(crate) struct Stamp<S> {
    pub(crate) inner: S,
}

impl<S, B, R> tower::Service<Request<B>> for Stamp<S>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Stamped<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let id = match kept_id(&request) {
            Some(id) => id.clone(),
            None => {
                // Replaces whatever ids the caller sent.
                let id = new_id();
                request.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        Stamped {
            inner: self.inner.call(request),
            id: Some(id),
        }
    }
}

/// The caller's request id, if it is one value of 1 to 128 printable ASCII
/// characters (it is echoed and logged).
fn kept_id<B>(request: &Request<B>) -> Option<&HeaderValue> {
    let mut ids = request.headers().get_all(REQUEST_ID).iter();
    let (id, None) = (ids.next()?, ids.next()) else {
        return None;
    };
    let bytes = id.as_bytes();
    let fits = !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_BYTES
        && bytes.iter().all(u8::is_ascii_graphic);
    fits.then_some(id)
}

/// A new request id, a random UUID shared by the request and its answer.
fn new_id() -> HeaderValue {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
    HeaderValue::from_maybe_shared(Bytes::from_owner(text)).expect("a UUID is a valid header value")
}

pin_project_lite::pin_project! {
    /// A request's answer on its way; stamped when it is ready.
    pub(crate) struct Stamped<F> {
        #[pin]
        inner: F,
        id: Option<HeaderValue>,
    }
}

impl<F, R, E> Future for Stamped<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut answer = ready!(this.inner.poll(cx));
        if let Ok(response) = &mut answer {
            let headers = response.headers_mut();
            if let Some(id) = this.id.take() {
                headers.entry(REQUEST_ID).or_insert(id);
            }
            headers.append(VARY, CORS_VARY);
        }
        Poll::Ready(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(ids: &[&str]) -> Request<()> {
        let mut request = Request::new(());
        for id in ids {
            let id = HeaderValue::from_str(id).unwrap();
            request.headers_mut().append(REQUEST_ID, id);
        }
        request
    }

    #[test]
    fn one_printable_id_of_at_most_128_bytes_fits() {
        assert_eq!(kept_id(&request(&[])), None);
        assert_eq!(kept_id(&request(&["req-42.a/b"])).unwrap(), "req-42.a/b");
        assert!(kept_id(&request(&[&"x".repeat(128)])).is_some());
        for unfit in [&["x".repeat(129)][..], &["has space".into()], &["".into()]] {
            let unfit: Vec<&str> = unfit.iter().map(String::as_str).collect();
            assert_eq!(kept_id(&request(&unfit)), None, "{unfit:?}");
        }
        assert_eq!(kept_id(&request(&["one", "two"])), None);
    }

    #[test]
    fn a_new_id_is_a_uuid() {
        let id = new_id();
        assert!(
            uuid::Uuid::parse_str(id.to_str().unwrap()).is_ok(),
            "{id:?}"
        );
        assert_ne!(new_id(), id);
    }
}
