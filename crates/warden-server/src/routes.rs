//! The route table: every route once, with its method, path and access
//! rule. [`router`] builds the service from it, the OpenAPI document
//! describes its API routes, and the route-walk test calls every entry
//! without credentials and with each role.

use axum::Router;
use axum::http::Method;
use axum::middleware;
use axum::routing::MethodRouter;
use tower_http::limit::RequestBodyLimitLayer;

use crate::AppState;
use crate::guard::{self, Access};

/// One route.
#[derive(Debug)]
pub struct Route {
    pub method: Method,
    /// axum path syntax (`/api/v1/cases/{id}`).
    pub path: &'static str,
    pub access: Access,
    /// One line for people (the OpenAPI summary).
    pub summary: &'static str,
    pub handler: MethodRouter<AppState>,
}

impl Route {
    pub fn new(
        method: Method,
        path: &'static str,
        access: Access,
        summary: &'static str,
        handler: MethodRouter<AppState>,
    ) -> Self {
        Self {
            method,
            path,
            access,
            summary,
            handler,
        }
    }
}

/// Every route the server answers.
pub fn table() -> Vec<Route> {
    let mut routes = crate::api::routes();
    routes.extend(crate::ui::routes());
    routes.push(Route::new(
        Method::GET,
        "/metrics",
        Access::Needs(crate::auth::Permission::ReadMetrics),
        "Prometheus metrics (text exposition format)",
        axum::routing::get(crate::metrics::render),
    ));
    routes
}

/// The whole service, buildable without a socket (tests call it with
/// `tower::ServiceExt::oneshot`).
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for route in table() {
        let gate = middleware::from_fn_with_state((state.clone(), route.access), guard::authorize);
        router = router.route(route.path, route.handler.route_layer(gate));
    }
    let max_body = state.config().max_body_bytes;
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(guard::security_headers))
        .layer(RequestBodyLimitLayer::new(max_body))
        .with_state(state)
}

/// Unknown paths: the JSON error under `/api/` and `/metrics`, the 404 page
/// elsewhere. Nothing is said about what exists.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if guard::is_api(uri.path()) {
        crate::ApiError::not_found(format!("no API route {}", uri.path())).into_response()
    } else {
        crate::ui::not_found().await
    }
}

/// A known path with a method it does not take. axum answers this before
/// any route's gate runs, so the answer says no more than that: no data,
/// and nothing a request could change.
async fn method_not_allowed(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let err = crate::ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take this method", uri.path()),
    );
    if guard::is_api(uri.path()) {
        err.into_response()
    } else {
        crate::ui::error_page(err.status, &err.message, None)
    }
}
