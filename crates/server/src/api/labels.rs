//! GB 45438 labels over HTTP: embed, read and verify uploaded files.
//!
//! A file arrives as the raw request body (name it with `?filename=`, which decides between zip
//! packages and text formats) or as `multipart/form-data` with a `file` field. The upload is
//! streamed to a temporary file under the size limit, labelled file-to-file without loading the
//! media into memory, and streamed back.

use std::path::{Path, PathBuf};

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;
use warden_mark::{AigcLabel, Generated, MarkError, file};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiQuery;

impl From<MarkError> for ApiError {
    fn from(error: MarkError) -> Self {
        match error {
            MarkError::Io(_) | MarkError::Input { .. } | MarkError::Output { .. } => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "io_error",
                error.to_string(),
            ),
            MarkError::Unsupported(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_format",
                error.to_string(),
            ),
            MarkError::InvalidLabel(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_label",
                error.to_string(),
            ),
            MarkError::Truncated { .. } | MarkError::Corrupt { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "corrupt_file",
                error.to_string(),
            ),
        }
    }
}

fn io_error(error: std::io::Error) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "io_error",
        error.to_string(),
    )
}

/// A received upload: its temporary folder (removed on drop) and path.
struct Upload {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn safe_name(name: Option<&str>) -> String {
    let name = name
        .and_then(|n| Path::new(n).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("upload");
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() || cleaned.starts_with('.') {
        format!("upload{cleaned}")
    } else {
        cleaned
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!(
            "the upload exceeds {limit} bytes; raise [server] max_upload_bytes to accept larger files"
        ),
    )
}

async fn spool_stream<S, E>(mut stream: S, path: &Path, limit: usize) -> Result<(), ApiError>
where
    S: futures_util::Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut out = tokio::fs::File::create(path).await.map_err(io_error)?;
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            let message = e.to_string();
            if message.contains("length limit") {
                too_large(limit)
            } else {
                ApiError::bad_request(format!("reading the upload failed: {message}"))
            }
        })?;
        total += chunk.len();
        if total > limit {
            return Err(too_large(limit));
        }
        out.write_all(&chunk).await.map_err(io_error)?;
    }
    out.flush().await.map_err(io_error)?;
    Ok(())
}

/// Receive the upload, raw or multipart.
async fn receive(
    state: &AppState,
    request: Request,
    filename: Option<&str>,
) -> Result<Upload, ApiError> {
    let limit = state.max_upload_bytes;
    let dir = tempfile::tempdir().map_err(io_error)?;
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        let path = dir.path().join(safe_name(filename));
        spool_stream(request.into_body().into_data_stream(), &path, limit).await?;
        return Ok(Upload { _dir: dir, path });
    }
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let path = dir.path().join(safe_name(filename.or(field.file_name())));
        spool_stream(field, &path, limit).await?;
        return Ok(Upload { _dir: dir, path });
    }
    Err(ApiError::bad_request(
        "the multipart body has no `file` field",
    ))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedQuery {
    producer: String,
    produce_id: String,
    #[serde(default)]
    label: Option<String>,
    reserved_code1: Option<String>,
    filename: Option<String>,
}

/// `POST /v1/labels/embed`: answer the labelled file.
pub async fn embed(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<EmbedQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let generated = match query.label.as_deref().unwrap_or("1") {
        "1" | "is" => Generated::Is,
        "2" | "possibly" => Generated::Possibly,
        "3" | "suspected" => Generated::Suspected,
        other => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_label",
                format!("label must be 1/is, 2/possibly or 3/suspected, not `{other}`"),
            ));
        }
    };
    let mut label = AigcLabel::new(generated, &query.producer, &query.produce_id)?;
    if let Some(reserved) = query.reserved_code1 {
        label.reserved_code1 = reserved;
        label.validate()?;
    }
    let upload = receive(&state, request, query.filename.as_deref()).await?;
    let input = upload.path.clone();
    let output = input.with_file_name(format!(
        "labelled-{}",
        input.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    let written = output.clone();
    let value = label.to_json();
    let format = blocking(move || {
        let format = file::detect(&input)?;
        if format == warden_mark::Format::Text {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_format",
                "plain text keeps its label in a sidecar file; label Markdown (.md) instead, or use `warden label embed`",
            ));
        }
        file::write_value(&input, &written, format, &value)?;
        Ok(format)
    })
    .await?;
    let out = tokio::fs::File::open(&output).await.map_err(io_error)?;
    let length = out.metadata().await.map_err(io_error)?.len();
    // The open handle keeps the data readable after the temporary folder is removed.
    drop(upload);
    let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(out)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(value) = HeaderValue::from_str(&label.to_json()) {
        headers.insert("x-warden-aigc", value);
    }
    if let Ok(value) = HeaderValue::from_str(format.name()) {
        headers.insert("x-warden-format", value);
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectQuery {
    filename: Option<String>,
    #[serde(default)]
    declared: bool,
    #[serde(default)]
    detected: bool,
}

/// `POST /v1/labels/read`: every label in the upload.
pub async fn read(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<InspectQuery>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let upload = receive(&state, request, query.filename.as_deref()).await?;
    let path = upload.path.clone();
    let (format, values) = blocking(move || {
        let format = file::detect(&path)?;
        let values = file::read_values(&path, format)?;
        Ok((format, values))
    })
    .await?;
    let labels: Vec<Value> = values
        .iter()
        .map(|value| match warden_mark::label::inspect(value).label {
            Some(label) => serde_json::to_value(label).unwrap_or(Value::Null),
            None => json!({"raw": value}),
        })
        .collect();
    Ok(Json(
        json!({"format": format, "count": labels.len(), "labels": labels}),
    ))
}

/// `POST /v1/labels/verify`: the conformance report and what a platform must show.
pub async fn verify(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<InspectQuery>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let upload = receive(&state, request, query.filename.as_deref()).await?;
    let path = upload.path.clone();
    let name = query.filename.clone().unwrap_or_else(|| "upload".into());
    let (declared, detected) = (query.declared, query.detected);
    let (report, display) = blocking(move || {
        let mut report = file::verify(&path);
        report.file = name;
        let display = file::display(&path, declared, detected).ok();
        Ok((report, display))
    })
    .await?;
    let mut value = serde_json::to_value(report).unwrap_or(Value::Null);
    value["display"] = serde_json::to_value(display).unwrap_or(Value::Null);
    Ok(Json(value))
}
