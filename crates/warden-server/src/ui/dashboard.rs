//! The metrics page (`/dashboard`): triage time, how often analysts
//! override the agent, policy denials and escalations, per hour or per day
//! over the last days, computed from the audit log (the record every
//! number here can be traced back to).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Extension, Query, State};
use axum::http::Method;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use time::{Duration, OffsetDateTime};
use warden_store::{AuditQuery, AuditRow};

use super::charts::{Chart, Point, shown};
use super::{Nav, page, render};
use crate::AppState;
use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::guard::Access;
use crate::routes::Route;

pub fn routes() -> Vec<Route> {
    vec![Route::new(
        Method::GET,
        "/dashboard",
        Access::Needs(Permission::ReadMetrics),
        "Metrics with charts (page)",
        get(dashboard),
    )]
}

/// The kinds the metrics are computed from.
const KINDS: [&str; 5] = [
    "case_opened",
    "triage_completed",
    "policy_decided",
    "escalated",
    "case_reviewed",
];
/// Audit rows read per query, and at most in all.
const BATCH: u32 = 5_000;
const MAX_ROWS: usize = 200_000;

#[derive(Debug, Default, Deserialize)]
struct DashboardQuery {
    days: Option<String>,
}

#[derive(Debug)]
struct Span {
    days: i64,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Option<Nav>,
    spans: Vec<Span>,
    days: i64,
    per: &'static str,
    charts: Vec<Chart>,
    triaged: usize,
    median_triage: String,
    reviews: usize,
    override_rate: String,
    denials: usize,
    escalations: usize,
    truncated: bool,
}

/// Per-bucket tallies.
#[derive(Debug, Default, Clone)]
struct Bucket {
    triage_ms: Vec<f64>,
    reviews: u32,
    overrides: u32,
    denials: u32,
    escalations: u32,
}

async fn dashboard(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<DashboardQuery>,
) -> Response {
    let days = query
        .days
        .as_deref()
        .and_then(|d| d.trim().parse::<i64>().ok())
        .unwrap_or(14)
        .clamp(1, 90);
    let result = async {
        let page = build(&state, &principal, days).await?;
        Ok(render(&page))
    }
    .await;
    page(result, &principal)
}

/// Read every row of the metric kinds since `since`, in batches.
async fn rows_since(
    state: &AppState,
    since: OffsetDateTime,
) -> Result<(Vec<AuditRow>, bool), ApiError> {
    let mut rows: Vec<AuditRow> = Vec::new();
    let mut after = None;
    loop {
        let batch = state
            .store()
            .audit_search(&AuditQuery {
                kinds: KINDS.iter().map(|k| (*k).to_owned()).collect(),
                since: Some(since),
                after_seq: after,
                limit: Some(BATCH),
                ..AuditQuery::default()
            })
            .await?;
        let full = batch.len() == BATCH as usize;
        after = batch.last().map(|r| r.seq);
        rows.extend(batch);
        if rows.len() >= MAX_ROWS {
            return Ok((rows, true));
        }
        if !full {
            return Ok((rows, false));
        }
    }
}

fn event(row: &AuditRow) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(&row.entry)
        .ok()
        .and_then(|v| v.get("event").cloned())
        .unwrap_or(serde_json::Value::Null)
}

async fn build(
    state: &AppState,
    principal: &Principal,
    days: i64,
) -> Result<DashboardPage, ApiError> {
    let now = state.now();
    let hourly = days <= 2;
    let step = if hourly {
        Duration::hours(1)
    } else {
        Duration::days(1)
    };
    let count = if hourly { days * 24 } else { days };
    let end = truncate(now, hourly) + step;
    let start = end - step * i32::try_from(count).unwrap_or(90);
    let (rows, truncated) = rows_since(state, start).await?;

    let index = |at: OffsetDateTime| -> Option<usize> {
        if at < start || at >= end {
            return None;
        }
        let offset = (at - start).whole_seconds() / step.whole_seconds().max(1);
        usize::try_from(offset).ok()
    };
    let mut buckets = vec![Bucket::default(); usize::try_from(count).unwrap_or(0)];
    let mut opened: HashMap<String, OffsetDateTime> = HashMap::new();
    let mut all_triage = Vec::new();
    for row in &rows {
        let case = row.case_id.map(|c| c.to_string());
        let slot = index(row.at).and_then(|i| buckets.get_mut(i).map(|b| (i, b)));
        match row.kind.as_str() {
            "case_opened" => {
                if let Some(case) = case {
                    opened.insert(case, row.at);
                }
            }
            "triage_completed" => {
                let began = match (&case, row.case_id) {
                    (Some(key), _) if opened.contains_key(key) => opened.get(key).copied(),
                    (_, Some(id)) => state.store().case(id).await?.map(|c| c.created_at),
                    _ => None,
                };
                if let (Some(began), Some((_, bucket))) = (began, slot) {
                    let ms = (row.at - began).as_seconds_f64() * 1000.0;
                    bucket.triage_ms.push(ms.max(0.0));
                    all_triage.push(ms.max(0.0));
                }
            }
            "policy_decided" => {
                let denied = event(row)
                    .pointer("/outcome/outcome")
                    .and_then(serde_json::Value::as_str)
                    == Some("deny");
                if let (true, Some((_, bucket))) = (denied, slot) {
                    bucket.denials += 1;
                }
            }
            "escalated" => {
                if let Some((_, bucket)) = slot {
                    bucket.escalations += 1;
                }
            }
            "case_reviewed" => {
                let overridden = event(row)
                    .get("overridden")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false);
                if let Some((_, bucket)) = slot {
                    bucket.reviews += 1;
                    bucket.overrides += u32::from(overridden);
                }
            }
            _ => {}
        }
    }

    let labels: Vec<String> = (0..count)
        .map(|i| {
            let at = start + step * i32::try_from(i).unwrap_or(0);
            if hourly {
                format!(
                    "{:02}-{:02} {:02}:00",
                    u8::from(at.month()),
                    at.day(),
                    at.hour()
                )
            } else {
                format!("{}-{:02}-{:02}", at.year(), u8::from(at.month()), at.day())
            }
        })
        .collect();
    let series = |f: &dyn Fn(&Bucket) -> Option<f64>| -> Vec<Point> {
        labels
            .iter()
            .zip(&buckets)
            .map(|(label, bucket)| Point {
                label: label.clone(),
                value: f(bucket),
            })
            .collect()
    };
    let max_ms = all_triage.iter().copied().fold(0.0_f64, f64::max);
    let (divisor, unit, decimals) = if max_ms >= 1000.0 {
        (1000.0, " s", 2)
    } else {
        (1.0, " ms", 0)
    };
    let triage = series(&|b| {
        (!b.triage_ms.is_empty())
            .then(|| b.triage_ms.iter().sum::<f64>() / b.triage_ms.len() as f64 / divisor)
    });
    let overrides =
        series(&|b| (b.reviews > 0).then(|| f64::from(b.overrides) / f64::from(b.reviews) * 100.0));
    let denials = series(&|b| Some(f64::from(b.denials)));
    let escalations = series(&|b| Some(f64::from(b.escalations)));
    let per = if hourly { "hour" } else { "day" };
    let charts = vec![
        Chart::bars(
            "triage-time",
            "Triage time",
            &format!(
                "Mean time from a case opening to its triage completing, per {per}, over the last {days} days."
            ),
            unit,
            decimals,
            &triage,
            false,
        ),
        Chart::bars(
            "override-rate",
            "Analyst override rate",
            &format!(
                "Share of reviewed cases where the analyst's verdict overrode the agent's, per {per}, in percent."
            ),
            "%",
            0,
            &overrides,
            true,
        ),
        Chart::bars(
            "policy-denials",
            "Policy denials",
            &format!("Proposed actions the policy denied, per {per}."),
            "",
            0,
            &denials,
            true,
        ),
        Chart::bars(
            "escalations",
            "Escalations",
            &format!("Cases escalated to people by the deterministic triggers, per {per}."),
            "",
            0,
            &escalations,
            false,
        ),
    ];
    let reviews: u32 = buckets.iter().map(|b| b.reviews).sum();
    let overridden: u32 = buckets.iter().map(|b| b.overrides).sum();
    let mut sorted = all_triage.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).map(|ms| ms / divisor);
    Ok(DashboardPage {
        nav: Some(Nav::of(principal, "dashboard")),
        spans: [1, 2, 7, 14, 30, 90]
            .into_iter()
            .map(|d| Span {
                days: d,
                label: if d == 1 {
                    "1 day".to_owned()
                } else {
                    format!("{d} days")
                },
                selected: d == days,
            })
            .collect(),
        days,
        per,
        charts,
        triaged: all_triage.len(),
        median_triage: shown(median, decimals, unit),
        reviews: reviews as usize,
        override_rate: shown(
            (reviews > 0).then(|| f64::from(overridden) / f64::from(reviews) * 100.0),
            0,
            "%",
        ),
        denials: buckets.iter().map(|b| b.denials as usize).sum(),
        escalations: buckets.iter().map(|b| b.escalations as usize).sum(),
        truncated,
    })
}

/// The start of the hour (or day) `at` falls in, in UTC.
fn truncate(at: OffsetDateTime, hourly: bool) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    let hour = if hourly { at.hour() } else { 0 };
    at.replace_time(time::Time::from_hms(hour, 0, 0).unwrap_or(time::Time::MIDNIGHT))
}
