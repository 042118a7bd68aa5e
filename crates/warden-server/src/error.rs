//! Errors as HTTP answers: JSON `{"error": {"code", "message"}}` for the
//! API; the UI renders its own page (see `ui`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// A stable, machine-readable code (`not_found`, `forbidden`, ...).
    pub code: &'static str,
    /// What went wrong and where, for a person.
    pub message: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in, or send an API token as `Authorization: Bearer wdn_...`",
        )
    }

    /// A server-side failure: logged in full, answered in general terms
    /// (no internals to the caller).
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request; the error is in its log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"warden\""),
            );
        }
        response
    }
}

impl From<warden_store::StoreError> for ApiError {
    fn from(err: warden_store::StoreError) -> Self {
        match err {
            warden_store::StoreError::NoSuchCase(id) => {
                ApiError::not_found(format!("case {id} does not exist"))
            }
            warden_store::StoreError::Conflict { .. } => ApiError::conflict(err.to_string()),
            other => ApiError::internal(other),
        }
    }
}

impl From<warden_pipeline::control::ControlError> for ApiError {
    fn from(err: warden_pipeline::control::ControlError) -> Self {
        use warden_pipeline::control::ControlError as E;
        match err {
            E::Store(store) => store.into(),
            E::Audit(audit) => ApiError::internal(audit),
            E::NoSuchRequest(_) | E::UnknownUseCase(_) => ApiError::not_found(err.to_string()),
            E::NotPending(_)
            | E::Expired(_)
            | E::AlreadyAnswered(_)
            | E::Transition(_)
            | E::Tampered(_) => ApiError::conflict(err.to_string()),
            E::RoleNotHeld { .. }
            | E::RoleNotAccepted { .. }
            | E::SelfApproval(_)
            | E::PushedAlert(_) => ApiError::forbidden(err.to_string()),
            E::EmptyNote | E::OverrideReasonMissing { .. } | E::OverrideTextMissing => {
                ApiError::bad_request(err.to_string())
            }
            E::Account(_) => ApiError::bad_request(err.to_string()),
        }
    }
}

impl From<warden_audit::AuditError> for ApiError {
    fn from(err: warden_audit::AuditError) -> Self {
        ApiError::internal(err)
    }
}

impl From<warden_pipeline::PipelineError> for ApiError {
    fn from(err: warden_pipeline::PipelineError) -> Self {
        ApiError::internal(err)
    }
}
