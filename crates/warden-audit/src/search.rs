//! `warden audit search`: entries by case, actor, kind and time (filtered
//! by the store), and by action or tool (matched in the typed event: a
//! proposal's, a decision's, an execution's or a modification's action; a
//! tool request's tool).

use serde_json::Value;
use warden_store::{AuditQuery, CaseReader};

use crate::{AuditError, AuditRecord, record_of};

/// What to look for; every filter set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// Case, actor, kinds, time range and limit, applied by the store.
    pub query: AuditQuery,
    /// Catalogue action name (`edr.isolate_host`).
    pub action: Option<String>,
    /// Context tool name.
    pub tool: Option<String>,
}

/// Entries matching `search`, oldest first.
pub async fn search<S: CaseReader + ?Sized>(
    store: &S,
    search: &Search,
) -> Result<Vec<AuditRecord>, AuditError> {
    let by_content = search.action.is_some() || search.tool.is_some();
    let limit = search.query.limit.map_or(usize::MAX, |l| l as usize);
    let mut query = search.query.clone();
    if by_content {
        // Content filters run here, so the store cannot stop early.
        query.limit = None;
    }
    let mut out = Vec::new();
    for row in store.audit_search(&query).await? {
        let record = record_of(row)?;
        if by_content {
            let event = serde_json::to_value(&record.entry.event)?;
            if search
                .action
                .as_deref()
                .is_some_and(|action| !mentions(&event, "action", action))
                || search
                    .tool
                    .as_deref()
                    .is_some_and(|tool| !mentions(&event, "tool", tool))
            {
                continue;
            }
        }
        out.push(record);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// Whether `value` holds `key: wanted` at any depth.
fn mentions(value: &Value, key: &str, wanted: &str) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| (k == key && v.as_str() == Some(wanted)) || mentions(v, key, wanted)),
        Value::Array(items) => items.iter().any(|v| mentions(v, key, wanted)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_key_at_any_depth() {
        let event = serde_json::json!({
            "type": "assessed",
            "proposals": [{"action": "edr.isolate_host", "target": {"host": "ws-1"}}]
        });
        assert!(mentions(&event, "action", "edr.isolate_host"));
        assert!(!mentions(&event, "action", "idp.disable_user"));
        assert!(!mentions(&event, "tool", "edr.isolate_host"));
    }
}
