//! Use-case settings (`/use-cases`): each use case's autonomy (the
//! playbook's and the one in force), what it may do, and the kill switch,
//! global and per use case. Forms are shown to those who hold the
//! permission; the route's own check is what enforces it.

use askama::Template;
use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use warden_domain::Autonomy;

use super::{Choice, Nav, done, flash, given, page, render, segment};
use crate::AppState;
use crate::api::{self, views};
use crate::auth::{Permission, Principal};
use crate::guard::Access;
use crate::routes::Route;

pub fn routes() -> Vec<Route> {
    let r = Route::new;
    vec![
        r(
            Method::GET,
            "/use-cases",
            Access::Needs(Permission::ReadCases),
            "Use cases, autonomy and the kill switch (page)",
            get(settings),
        ),
        r(
            Method::POST,
            "/use-cases/{name}/autonomy",
            Access::Needs(Permission::SetAutonomy),
            "Set a use case's autonomy level (form)",
            post(set_autonomy),
        ),
        r(
            Method::POST,
            "/kill-switch/pause",
            Access::Needs(Permission::KillSwitch),
            "Pull the kill switch (form)",
            post(pause),
        ),
        r(
            Method::POST,
            "/kill-switch/resume",
            Access::Needs(Permission::KillSwitch),
            "Release the kill switch (form)",
            post(resume),
        ),
    ]
}

#[derive(Debug)]
struct UseCaseRow {
    view: views::UseCaseView,
    /// The name as a path segment.
    path: String,
    levels: Vec<Choice>,
}

#[derive(Debug)]
struct PauseRow {
    scope: String,
    by: String,
    reason: String,
    at: String,
}

#[derive(Template)]
#[template(path = "use_cases.html")]
struct SettingsPage {
    nav: Option<Nav>,
    csrf: String,
    flash: Option<&'static str>,
    use_cases: Vec<UseCaseRow>,
    pauses: Vec<PauseRow>,
    globally_paused: bool,
    can_set_autonomy: bool,
    can_kill: bool,
}

#[derive(Debug, Default, Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn settings(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<DoneQuery>,
) -> Response {
    let result = async {
        let use_cases = views::use_cases(&state).await?;
        let pauses = state.store().pauses().await?;
        let person = principal.person().is_some();
        Ok(render(&SettingsPage {
            nav: Some(Nav::of(&principal, "use-cases")),
            csrf: principal.csrf().unwrap_or_default().to_owned(),
            flash: flash(query.done.as_deref()),
            globally_paused: pauses.iter().any(|p| p.scope == warden_store::GLOBAL_SCOPE),
            pauses: pauses
                .into_iter()
                .map(|p| PauseRow {
                    scope: if p.scope == warden_store::GLOBAL_SCOPE {
                        "everything".to_owned()
                    } else {
                        p.scope
                    },
                    by: p.by,
                    reason: p.reason,
                    at: views::rfc3339(p.at),
                })
                .collect(),
            use_cases: use_cases
                .into_iter()
                .map(|view| UseCaseRow {
                    path: segment(&view.name),
                    levels: Choice::list(
                        Autonomy::ALL.iter().map(|a| a.as_str()),
                        Some(&view.autonomy),
                    ),
                    view,
                })
                .collect(),
            can_set_autonomy: person && principal.can(Permission::SetAutonomy),
            can_kill: person && principal.can(Permission::KillSwitch),
        }))
    }
    .await;
    page(result, &principal)
}

#[derive(Debug, Default, Deserialize)]
struct AutonomyForm {
    #[serde(default)]
    level: String,
    #[serde(default)]
    reason: String,
}

async fn set_autonomy(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    Form(form): Form<AutonomyForm>,
) -> Response {
    let result = async {
        api::set_autonomy_as(&state, &principal, &name, &form.level, &form.reason).await?;
        Ok(done("/use-cases", "autonomy_set"))
    }
    .await;
    page(result, &principal)
}

#[derive(Debug, Default, Deserialize)]
struct SwitchForm {
    use_case: Option<String>,
    #[serde(default)]
    reason: String,
}

async fn switch(state: &AppState, principal: &Principal, form: SwitchForm, pull: bool) -> Response {
    let use_case = given(form.use_case);
    let result = async {
        api::switch_as(state, principal, use_case.as_deref(), &form.reason, pull).await?;
        Ok(done("/use-cases", if pull { "paused" } else { "resumed" }))
    }
    .await;
    page(result, principal)
}

async fn pause(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Form(form): Form<SwitchForm>,
) -> Response {
    switch(&state, &principal, form, true).await
}

async fn resume(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Form(form): Form<SwitchForm>,
) -> Response {
    switch(&state, &principal, form, false).await
}
