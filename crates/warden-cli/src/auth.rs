//! Who is at the keyboard: an account name and its password from standard
//! input (one line), checked against the store.

use std::io::BufRead;

use anyhow::Context as _;
use warden_store::{Person, Store};

/// Read a password from standard input: the first line, without its
/// line ending.
pub fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// The account `name`, if the password on standard input is right.
pub async fn login(store: &dyn Store, name: &str) -> anyhow::Result<Person> {
    let password = read_password()?;
    Ok(warden_pipeline::accounts::authenticate(store, name, &password).await?)
}

/// `login`, and the account must hold `permission` through one of its
/// roles (the same rule the server applies, `warden_server::auth`).
pub async fn login_as(
    store: &dyn Store,
    name: &str,
    permission: warden_server::auth::Permission,
) -> anyhow::Result<Person> {
    let person = login(store, name).await?;
    if !warden_server::auth::roles_grant(&person.roles, permission) {
        anyhow::bail!(
            "{} holds {}; this needs a role that grants {}",
            person.name,
            person.roles.join(", "),
            permission.as_str()
        );
    }
    Ok(person)
}
