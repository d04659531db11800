//! Sending a result file, streamed from disk, with single `Range` requests (a browser's video
//! player seeks with them).

use std::io::SeekFrom;
use std::path::Path;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};

use crate::http::ApiError;

/// The bytes of a file a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Span {
    Whole,
    /// `start..=end`, within the file.
    Part {
        start: u64,
        end: u64,
    },
    Unsatisfiable,
}

/// `path` as the answer to a request with `headers`: 200 with the whole file, 206 with the one
/// range asked for, or 416.
pub(crate) async fn send(path: &Path, content_type: &'static str, download_name: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let mut file = tokio::fs::File::open(path).await.map_err(|e| ApiError::internal(format!("opening {}: {e}", path.display())))?;
    let len = file.metadata().await.map_err(|e| ApiError::internal(format!("reading {}: {e}", path.display())))?.len();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let span = range.map_or(Span::Whole, |r| span(r, len));
    let (status, start, count) = match span {
        Span::Whole => (StatusCode::OK, 0, len),
        Span::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Span::Unsatisfiable => {
            let mut response =
                ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, format!("range {} is outside the file ({len} bytes)", range.unwrap_or(""))).into_response();
            response.headers_mut().insert(header::CONTENT_RANGE, header_value(&format!("bytes */{len}")));
            return Ok(response);
        }
    };
    file.seek(SeekFrom::Start(start)).await.map_err(|e| ApiError::internal(format!("reading {}: {e}", path.display())))?;
    let mut response = Response::new(Body::from_stream(chunks(file.take(count))));
    *response.status_mut() = status;
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(header::CONTENT_DISPOSITION, header_value(&format!("inline; filename=\"{download_name}\"")));
    if status == StatusCode::PARTIAL_CONTENT {
        out.insert(header::CONTENT_RANGE, header_value(&format!("bytes {start}-{}/{len}", start + count - 1)));
    }
    Ok(response)
}

/// Values built from numbers and server-chosen names are always valid header text.
fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The file's bytes in chunks of 64 KiB.
fn chunks<R: AsyncRead + Unpin + Send + 'static>(reader: R) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    futures_util::stream::try_unfold(reader, |mut reader| async move {
        let mut buf = vec![0u8; 64 * 1024];
        let n = reader.read(&mut buf).await?;
        buf.truncate(n);
        Ok::<_, std::io::Error>((n > 0).then(|| (Bytes::from(buf), reader)))
    })
}

/// The span a `Range` header asks for in a file of `len` bytes. Several ranges, other units or a
/// malformed header get the whole file (which RFC 9110 allows).
fn span(range: &str, len: u64) -> Span {
    let Some(spec) = range.trim().strip_prefix("bytes=") else { return Span::Whole };
    if spec.contains(',') {
        return Span::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else { return Span::Whole };
    let (first, last) = (first.trim(), last.trim());
    let parsed = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => Some((start, end.min(len.saturating_sub(1)))),
        (Ok(start), Err(_)) if last.is_empty() => Some((start, len.saturating_sub(1))),
        // The last `n` bytes.
        (Err(_), Ok(n)) if first.is_empty() && n > 0 => Some((len.saturating_sub(n), len.saturating_sub(1))),
        (Err(_), Ok(_)) if first.is_empty() => return Span::Unsatisfiable,
        _ => None,
    };
    match parsed {
        Some((start, end)) if start < len => Span::Part { start, end },
        Some(_) => Span::Unsatisfiable,
        None => Span::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(span("bytes=0-99", 1000), Span::Part { start: 0, end: 99 });
        assert_eq!(span("bytes=500-", 1000), Span::Part { start: 500, end: 999 });
        assert_eq!(span("bytes=-100", 1000), Span::Part { start: 900, end: 999 });
        assert_eq!(span("bytes=-5000", 1000), Span::Part { start: 0, end: 999 });
        assert_eq!(span("bytes=900-5000", 1000), Span::Part { start: 900, end: 999 });
        assert_eq!(span("bytes=1000-", 1000), Span::Unsatisfiable);
        assert_eq!(span("bytes=-0", 1000), Span::Unsatisfiable);
        assert_eq!(span("bytes=0-1,5-6", 1000), Span::Whole);
        assert_eq!(span("items=0-1", 1000), Span::Whole);
        assert_eq!(span("bytes=5-2", 1000), Span::Whole);
        assert_eq!(span("bytes=0-", 0), Span::Unsatisfiable);
    }
}
