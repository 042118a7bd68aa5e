//! Sessions and API tokens (see [`crate::AuthStore`]).

use sqlx::{Row, SqlitePool};
use time::OffsetDateTime;

use crate::codec::{decode, encode, parse_ts, ts};
use crate::{ApiToken, Session, StoreError};

pub(super) async fn add_session(pool: &SqlitePool, session: &Session) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, person, csrf_token, created_at, expires_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&session.token_hash)
    .bind(session.person.to_lowercase())
    .bind(&session.csrf_token)
    .bind(ts(session.created_at)?)
    .bind(ts(session.expires_at)?)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn session(
    pool: &SqlitePool,
    token_hash: &str,
) -> Result<Option<Session>, StoreError> {
    let row = sqlx::query(
        "SELECT token_hash, person, csrf_token, created_at, expires_at \
         FROM sessions WHERE token_hash = ?",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(Session {
            token_hash: row.try_get(0)?,
            person: row.try_get(1)?,
            csrf_token: row.try_get(2)?,
            created_at: parse_ts(row.try_get::<&str, _>(3)?)?,
            expires_at: parse_ts(row.try_get::<&str, _>(4)?)?,
        })
    })
    .transpose()
}

pub(super) async fn delete_session(pool: &SqlitePool, token_hash: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn delete_expired_sessions(
    pool: &SqlitePool,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    // Timestamps are stored as UTC RFC 3339 with a fixed layout, so they
    // compare as text.
    let result = sqlx::query("DELETE FROM sessions WHERE expires_at < ?")
        .bind(ts(now)?)
        .execute(pool)
        .await?;
    Ok(result.rows_affected())
}

pub(super) async fn add_api_token(pool: &SqlitePool, token: &ApiToken) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO api_tokens (id, name, token_hash, scopes, created_by, created_at, revoked_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
    )
    .bind(&token.id)
    .bind(&token.name)
    .bind(&token.token_hash)
    .bind(encode("token scopes", &token.scopes)?)
    .bind(&token.created_by)
    .bind(ts(token.created_at)?)
    .bind(token.revoked_at.map(ts).transpose()?)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

fn token_row(row: &sqlx::sqlite::SqliteRow) -> Result<ApiToken, StoreError> {
    let name: String = row.try_get(1)?;
    Ok(ApiToken {
        id: row.try_get(0)?,
        token_hash: row.try_get(2)?,
        scopes: decode(
            &format!("scopes of token {name}"),
            row.try_get::<&str, _>(3)?,
        )?,
        created_by: row.try_get(4)?,
        created_at: parse_ts(row.try_get::<&str, _>(5)?)?,
        revoked_at: row
            .try_get::<Option<&str>, _>(6)?
            .map(parse_ts)
            .transpose()?,
        name,
    })
}

pub(super) async fn api_token_by_hash(
    pool: &SqlitePool,
    token_hash: &str,
) -> Result<Option<ApiToken>, StoreError> {
    let row = sqlx::query(
        "SELECT id, name, token_hash, scopes, created_by, created_at, revoked_at \
         FROM api_tokens WHERE token_hash = ?",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(token_row).transpose()
}

pub(super) async fn api_tokens(pool: &SqlitePool) -> Result<Vec<ApiToken>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, name, token_hash, scopes, created_by, created_at, revoked_at \
         FROM api_tokens ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    rows.iter().map(token_row).collect()
}

pub(super) async fn revoke_api_token(
    pool: &SqlitePool,
    name: &str,
    at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let result =
        sqlx::query("UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL")
            .bind(ts(at)?)
            .bind(name)
            .execute(pool)
            .await?;
    Ok(result.rows_affected() == 1)
}
