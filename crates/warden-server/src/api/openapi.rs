//! `/api/openapi.json`: the OpenAPI 3.1 document, built from the route
//! table so that it lists exactly the routes the server answers.

use axum::Json;
use serde_json::{Map, Value, json};

use crate::guard::Access;

/// The document.
pub fn build() -> Value {
    let mut paths = Map::new();
    for route in crate::api::routes() {
        let path = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        let security = match route.access {
            Access::Public => json!([]),
            _ => json!([{ "bearer": [] }, { "session": [] }]),
        };
        if let Value::Object(methods) = path {
            methods.insert(
                route.method.as_str().to_lowercase(),
                json!({
                    "summary": route.summary,
                    "security": security,
                    "responses": { "default": { "description": "see the summary" } },
                }),
            );
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Warden API",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "session": { "type": "apiKey", "in": "cookie", "name": "warden_session" },
            }
        }
    })
}

pub async fn document() -> Json<Value> {
    Json(build())
}
