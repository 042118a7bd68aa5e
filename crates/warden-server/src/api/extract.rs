//! Extractors for the API whose refusals are the API's JSON error body
//! (axum's own answer in plain text), so that every answer the OpenAPI
//! document describes is JSON.
//!
//! - [`ApiJson`]: a JSON body. 415 without a JSON content type, 400 for
//!   JSON that does not parse, 422 for JSON of the wrong shape, 413 for a
//!   body over the limit.
//! - [`ApiQuery`], [`ApiPath`]: 400 for a query string or path segment
//!   that does not fit.
//! - [`optional_json`]: a body that may be left out.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::{Json, body::Bytes};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// The query string.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

/// The path parameters.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

/// The stable error code for an extractor's refusal status.
fn code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

fn refusal(status: StatusCode, text: String) -> ApiError {
    if status.is_server_error() {
        return ApiError::internal(text);
    }
    ApiError::new(status, code(status), text)
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        refusal(rejection.status(), rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        refusal(rejection.status(), rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        refusal(rejection.status(), rejection.body_text())
    }
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(value) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// A JSON body that may be left out: an empty (or all-whitespace) body is
/// `None`; anything else must be JSON of the right shape (400 if it does
/// not parse, 422 if the shape is wrong).
pub fn optional_json<T: DeserializeOwned>(body: &Bytes) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = deserialize_body(&mut deserializer)?;
    deserializer
        .end()
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    Ok(Some(value))
}

fn deserialize_body<'de, T: DeserializeOwned>(
    deserializer: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T, ApiError> {
    T::deserialize(deserializer).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("the body does not have the expected shape: {e}"),
            ),
            _ => ApiError::bad_request(format!("the body is not JSON: {e}")),
        }
    })
}
