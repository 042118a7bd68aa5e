//! What a reason to close explains, alert by alert.
//!
//! A discount is a claim that one alert's activity is expected. It holds
//! only where its reason speaks:
//!
//! - **who**: a scanner or pentest tag excuses what the tagged asset or
//!   account *does* (the alert's actor), never what is done *to* it, and a
//!   host name alone does not prove which asset it is (anyone can name a
//!   host `scanner01`): the match needs an address or a fully qualified
//!   name;
//! - **what**: a scanner scans and probes; it does not dump credentials,
//!   run beacons, move laterally or exfiltrate. A benign reputation of a
//!   counterpart explains contact with it, not attempts to get in through
//!   it (brute force, exploitation) nor what was done beyond the contact;
//! - **which alert**: a reason explains the alert it was found on, never
//!   another alert of the same case.
//!
//! Text from the alert (title, description) can only withhold a discount
//! (it names post-access activity), never grant one: probing is read from
//! ATT&CK techniques and the rule name.

use warden_domain::{Alert, Evidence, ObservableKind};

/// ATT&CK techniques (base ids) of the activity a vulnerability scanner
/// performs: reconnaissance, discovery, and probing services, logins and
/// known vulnerabilities.
const PROBING_TECHNIQUES: &[&str] = &[
    // Reconnaissance.
    "T1595", "T1590", "T1592", "T1593", "T1594", "T1596", // Discovery.
    "T1046", "T1018", "T1135", "T1087", "T1082", "T1016", "T1049", "T1069", "T1007", "T1012",
    "T1033", "T1057", "T1083", "T1518", "T1124", "T1201",
    // Probing: exploit checks against exposed and internal services, and
    // credentialed checks that fail to log in.
    "T1190", "T1210", "T1110",
];

/// ATT&CK techniques (base ids) of what happens after access: credential
/// theft, lateral movement, persistence and privilege escalation, command
/// and control, defence evasion of the destructive kind, exfiltration and
/// impact. No tag or reputation explains these.
const POST_ACCESS_TECHNIQUES: &[&str] = &[
    // Credential access (brute force, T1110, is probing).
    "T1003", "T1558", "T1552", "T1555", "T1539", "T1528", "T1606", "T1212", "T1556", "T1557",
    "T1040", "T1111", "T1621", "T1649", // Lateral movement.
    "T1021", "T1570", "T1550", "T1563", "T1534", "T1080", "T1072", "T1091",
    // Persistence and privilege escalation.
    "T1543", "T1547", "T1136", "T1098", "T1505", "T1546", "T1574", "T1055", "T1068", "T1548",
    "T1134", // Command and control.
    "T1071", "T1573", "T1095", "T1572", "T1219", "T1001", "T1008", "T1104", "T1132", "T1568",
    "T1571", "T1205", // Defence evasion that hides or disarms.
    "T1070", "T1562", // Exfiltration: EXFILTRATION_TECHNIQUES.
    // Impact.
    "T1485", "T1486", "T1489", "T1490", "T1491", "T1495", "T1496", "T1498", "T1499", "T1529",
    "T1531", "T1561", "T1565", "T1657",
];

/// Words that name post-access activity in a rule name, title or
/// description (lower case).
const POST_ACCESS_WORDS: &[&str] = &[
    "mimikatz",
    "sekurlsa",
    "lsass",
    "credential dump",
    "dumping",
    "dcsync",
    "kerberoast",
    "beacon",
    "cobalt",
    "command and control",
    "c2",
    "c&c",
    "ransom",
    "exfil",
    "lateral",
    "psexec",
    "backdoor",
    "webshell",
    "web shell",
    "trojan",
    "reverse shell",
    "meterpreter",
    "rootkit",
    "keylog",
];

/// Words of a rule name that say the detection is about probing.
const PROBING_WORDS: &[&str] = &[
    "scan",
    "probe",
    "probing",
    "nmap",
    "sweep",
    "brute",
    "enumerat",
    "discovery",
    "recon",
    "vulnerability",
];

/// `text` in lower case with camel-case words split (`SSHBruteForce` reads
/// "ssh brute force", `PortProbe` "port probe"), as rule names of some
/// products are spelled.
fn words_of(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    for (i, c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| chars.get(p));
        let next = chars.get(i + 1);
        let boundary = c.is_ascii_uppercase()
            && prev.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
            });
        if boundary {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// `text` (from [`words_of`]) has `word` at the start of a word: `exfil`
/// matches "exfiltration" but `c2` does not match "ec2". Words of two
/// characters or fewer must also end there (`c2` is not "c2rust").
fn has_word(text: &str, word: &str) -> bool {
    let is_word_char = |c: char| c.is_ascii_alphanumeric();
    text.match_indices(word).any(|(at, _)| {
        let before = text.get(..at).and_then(|t| t.chars().next_back());
        let after = text.get(at + word.len()..).and_then(|t| t.chars().next());
        before.is_none_or(|c| !is_word_char(c))
            && (word.len() > 2 || after.is_none_or(|c| !is_word_char(c)))
    })
}

fn base_technique(id: &str) -> &str {
    id.split('.').next().unwrap_or(id)
}

/// The alert names activity beyond probing or contact: a post-access
/// technique, or a word for it in its rule, title or description.
pub(super) fn names_post_access(alert: &Alert) -> bool {
    if alert.attacks.iter().any(|t| {
        let id = base_technique(&t.id);
        POST_ACCESS_TECHNIQUES.contains(&id) || EXFILTRATION_TECHNIQUES.contains(&id)
    }) {
        return true;
    }
    let text = words_of(&format!(
        "{} {} {}",
        alert.rule.name,
        alert.title.as_untrusted_str(),
        alert.description.as_untrusted_str()
    ));
    POST_ACCESS_WORDS.iter().any(|w| has_word(&text, w))
}

/// Programs that open documents or web content a user received: a
/// shell or interpreter they start is how a document delivers its payload.
const DOCUMENT_HOSTS: &[&str] = &[
    "winword.exe",
    "excel.exe",
    "powerpnt.exe",
    "outlook.exe",
    "onenote.exe",
    "msaccess.exe",
    "mspub.exe",
    "visio.exe",
    "acrord32.exe",
    "acrobat.exe",
    "mshta.exe",
    "wscript.exe",
    "cscript.exe",
];

/// Shells, interpreters and loaders a payload runs through.
const SCRIPT_HOSTS: &[&str] = &[
    "powershell.exe",
    "pwsh.exe",
    "cmd.exe",
    "wscript.exe",
    "cscript.exe",
    "mshta.exe",
    "rundll32.exe",
    "regsvr32.exe",
    "certutil.exe",
    "bitsadmin.exe",
];

/// The file name of a process path, lower case (`C:\\x\\WINWORD.EXE`
/// reads `winword.exe`).
fn program(path: &str) -> String {
    path.rsplit(['\\', '/'])
        .next()
        .unwrap_or(path)
        .trim_matches('"')
        .to_ascii_lowercase()
}

/// The endpoint sensor saw a document reader or script host start a shell
/// or interpreter: the parent process field names one, a process field the
/// other. Both come from the sensor's process tree, not from the alert's
/// text.
pub(super) fn started_by_a_document(alert: &Alert) -> bool {
    let processes = || {
        alert
            .observables
            .iter()
            .filter(|o| o.kind == ObservableKind::Process && o.is_structured())
    };
    let in_field = |o: &&warden_domain::Observable, parent: bool| {
        o.provenance.iter().any(|p| match p {
            warden_domain::Provenance::Field { path } => {
                path.to_ascii_lowercase().contains("parent") == parent
            }
            warden_domain::Provenance::Text { .. } => false,
        })
    };
    let parent = processes()
        .filter(|o| in_field(o, true))
        .any(|o| DOCUMENT_HOSTS.contains(&program(&o.value).as_str()));
    let child = processes()
        .filter(|o| in_field(o, false))
        .any(|o| SCRIPT_HOSTS.contains(&program(&o.value).as_str()));
    parent && child
}

/// ATT&CK techniques (base ids) of attempts to get in: brute force and
/// exploitation. A scanner makes them as checks; coming through an
/// otherwise known counterpart (our VPN, a vendor) they are attacks.
const ACCESS_ATTEMPT_TECHNIQUES: &[&str] = &["T1110", "T1190", "T1210"];

/// Words of a rule name for attempts to get in.
const ACCESS_ATTEMPT_WORDS: &[&str] = &["brute", "spray", "exploit", "stuffing"];

/// The alert reports more than contact with a counterpart: post-access
/// activity, or an attempt to get in (brute force, exploitation). A
/// benign reputation explains the contact, not what is tried through it.
pub(super) fn beyond_contact(alert: &Alert) -> bool {
    if names_post_access(alert) {
        return true;
    }
    if alert
        .attacks
        .iter()
        .any(|t| ACCESS_ATTEMPT_TECHNIQUES.contains(&base_technique(&t.id)))
    {
        return true;
    }
    let rule = words_of(&alert.rule.name);
    ACCESS_ATTEMPT_WORDS.iter().any(|w| has_word(&rule, w))
}

/// The alert is about probing and nothing more: every technique it names is
/// a probing one, or it names none and its rule says it detects probing.
pub(super) fn is_probing(alert: &Alert) -> bool {
    if names_post_access(alert) {
        return false;
    }
    if alert.attacks.is_empty() {
        let rule = words_of(&alert.rule.name);
        return PROBING_WORDS.iter().any(|w| has_word(&rule, w));
    }
    alert
        .attacks
        .iter()
        .all(|t| PROBING_TECHNIQUES.contains(&base_technique(&t.id)))
}

/// How far an alert says the activity got, read from its ATT&CK techniques
/// (or, when it names none, its rule name; never the title or description,
/// which the sender writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reach {
    /// Looking or guessing from outside: reconnaissance, discovery scans,
    /// password guessing. Nothing in the alert shows that it got in.
    Attempt,
    /// Data or secrets leaving (an upload, a DLP match, exfiltration) and
    /// nothing else: whether an attacker or an employee took it is not in
    /// the alert.
    DataLeaving,
    /// Anything else, including exploitation, execution and every
    /// post-access stage other than data leaving.
    Beyond,
}

/// An ATT&CK technique (base id) of an attempt from outside that shows no
/// access: what a scanner does (reconnaissance, discovery, brute force),
/// except exploitation, which may have worked.
fn is_attempt_technique(id: &str) -> bool {
    PROBING_TECHNIQUES.contains(&id) && !ACCESS_ATTEMPT_TECHNIQUES.contains(&id) || id == "T1110"
}

/// ATT&CK techniques (base ids) of the exfiltration tactic.
const EXFILTRATION_TECHNIQUES: &[&str] = &[
    "T1041", "T1048", "T1567", "T1537", "T1029", "T1030", "T1020", "T1052", "T1011",
];

/// Words of a rule name (with no techniques) for an attempt that shows no
/// access.
const ATTEMPT_WORDS: &[&str] = &[
    "scan", "sweep", "nmap", "brute", "spray", "stuffing", "recon", "enumerat",
];

/// Words of a rule name (with no techniques) for data leaving.
const DATA_LEAVING_WORDS: &[&str] = &["dlp", "upload", "data transfer"];

/// How far `alert`'s activity got (see [`Reach`]).
pub(super) fn reach(alert: &Alert) -> Reach {
    let text = words_of(&format!(
        "{} {} {}",
        alert.rule.name,
        alert.title.as_untrusted_str(),
        alert.description.as_untrusted_str()
    ));
    // Any other post-access word anywhere, or an exploit in the rule,
    // means it went beyond.
    let beyond_words = POST_ACCESS_WORDS
        .iter()
        .filter(|w| **w != "exfil")
        .any(|w| has_word(&text, w));
    if beyond_words || has_word(&words_of(&alert.rule.name), "exploit") {
        return Reach::Beyond;
    }
    let all_in = |list: &[&str]| {
        alert
            .attacks
            .iter()
            .all(|t| list.contains(&base_technique(&t.id)))
    };
    if !alert.attacks.is_empty() {
        return if alert
            .attacks
            .iter()
            .all(|t| is_attempt_technique(base_technique(&t.id)))
        {
            Reach::Attempt
        } else if all_in(EXFILTRATION_TECHNIQUES) {
            Reach::DataLeaving
        } else {
            Reach::Beyond
        };
    }
    let rule = words_of(&alert.rule.name);
    if has_word(&text, "exfil") {
        Reach::Beyond
    } else if ATTEMPT_WORDS.iter().any(|w| has_word(&rule, w)) {
        Reach::Attempt
    } else if DATA_LEAVING_WORDS.iter().any(|w| has_word(&rule, w)) {
        Reach::DataLeaving
    } else {
        Reach::Beyond
    }
}

/// How an asset record is tied to one alert's actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AssetMatch {
    /// The alert's actor is this asset, shown by an address on the record
    /// or the record's fully qualified name.
    VerifiedActor(String),
    /// The actor's host name equals the record's short name and nothing
    /// corroborates it.
    UnverifiedActor,
    /// The asset is only on the receiving end of this alert.
    Target,
    /// Not in this alert.
    Absent,
}

/// How `asset` (an asset evidence item) appears in `alert`.
pub(super) fn asset_in_alert(asset: &Evidence, alert: &Alert) -> AssetMatch {
    let hostname = asset.fact_str("hostname").to_ascii_lowercase();
    let ips: Vec<&str> = asset
        .facts
        .get("ips")
        .and_then(|v| v.as_array())
        .map(|list| list.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let agent_id = asset.fact_str("agent_id").to_ascii_lowercase();
    let mut by_name_only = false;
    let mut as_target = false;
    for observable in alert.observables.iter().filter(|o| o.is_structured()) {
        let is_it = match observable.kind {
            ObservableKind::Ip => ips
                .iter()
                .any(|listed| warden_domain::same_ip(listed, &observable.value)),
            ObservableKind::Host => observable.value == hostname,
            _ => false,
        };
        if !is_it {
            continue;
        }
        if observable.is_actor() {
            match observable.kind {
                ObservableKind::Ip => {
                    return AssetMatch::VerifiedActor(format!("address {}", observable.value));
                }
                _ if hostname.contains('.') => {
                    return AssetMatch::VerifiedActor(format!("fully qualified name {hostname}"));
                }
                _ => by_name_only = true,
            }
        } else {
            as_target = true;
        }
    }
    // An EDR agent id on the record that the alert carries.
    if by_name_only && !agent_id.is_empty() && alert_mentions_agent(alert, &agent_id) {
        return AssetMatch::VerifiedActor(format!("agent id {agent_id}"));
    }
    if by_name_only {
        AssetMatch::UnverifiedActor
    } else if as_target {
        AssetMatch::Target
    } else {
        AssetMatch::Absent
    }
}

/// The alert's payload carries `agent_id` as a device or agent id.
fn alert_mentions_agent(alert: &Alert, agent_id: &str) -> bool {
    const POINTERS: &[&str] = &[
        "/agent/id",
        "/device/uid",
        "/device/agent_id",
        "/event/SensorId",
        "/metadata/device/aid",
        "/aid",
        "/mdeDeviceId",
    ];
    POINTERS.iter().any(|p| {
        alert
            .raw
            .pointer(p)
            .and_then(|v| v.as_str())
            .is_some_and(|v| v.eq_ignore_ascii_case(agent_id))
    })
}

/// The alert's structured actors of `kind` include `value` (account names
/// compared without domain or UPN suffix only when the evidence names the
/// account as the alert gave it).
pub(super) fn is_actor_in(alert: &Alert, kind: ObservableKind, value: &str) -> bool {
    alert
        .structured(kind)
        .any(|o| o.value.eq_ignore_ascii_case(value) && o.is_actor())
}

/// Every structured actor value of the alert (any kind), lower case. An
/// alert that names no acting host or address but exactly one host where
/// it happened (a Splunk `dest` on an endpoint event) happened there: that
/// host is its actor.
pub(super) fn actor_values(alert: &Alert) -> Vec<String> {
    let structured = || alert.observables.iter().filter(|o| o.is_structured());
    let mut values: Vec<String> = structured()
        .filter(|o| o.is_actor())
        .map(|o| o.value.to_lowercase())
        .collect();
    let acting_machine = structured()
        .any(|o| o.is_actor() && matches!(o.kind, ObservableKind::Host | ObservableKind::Ip));
    let places: Vec<&str> = structured()
        .filter(|o| o.kind == ObservableKind::Host)
        .map(|o| o.value.as_str())
        .collect();
    if let [place] = places.as_slice()
        && !acting_machine
    {
        values.push(place.to_lowercase());
    }
    values
}

/// The alert carries `value` of `kind` in a structured field (any role).
/// A domain is also carried as a host of that name and as the host of a
/// URL.
pub(super) fn carries(alert: &Alert, kind: ObservableKind, value: &str) -> bool {
    let value = value.to_lowercase();
    alert
        .observables
        .iter()
        .filter(|o| o.is_structured())
        .any(|o| {
            (o.kind == kind && o.value.to_lowercase() == value)
                || (kind == ObservableKind::Domain
                    && ((o.kind == ObservableKind::Host && o.value == value)
                        || (o.kind == ObservableKind::Url
                            && warden_domain::url_domain(&o.value).as_deref()
                                == Some(value.as_str()))))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_start_at_word_boundaries_and_camel_case_splits() {
        let rule = words_of("Recon:EC2/PortProbeUnprotectedPort");
        assert!(has_word(&rule, "probe"));
        assert!(!has_word(&rule, "c2"));
        assert!(has_word(
            &words_of("UnauthorizedAccess:EC2/SSHBruteForce"),
            "brute"
        ));
        assert!(has_word(&words_of("Possible C2 beacon"), "c2"));
        assert!(has_word(&words_of("Data exfiltration over DNS"), "exfil"));
        assert!(!has_word(&words_of("Rootkitten sighting"), "c2"));
    }
}
