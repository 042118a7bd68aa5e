//! `warden actions`: the action catalogue.

use std::process::ExitCode;

use warden_domain::ActionName;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// One JSON object per action, a line each.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if args.json {
        for &action in ActionName::ALL {
            let line = serde_json::json!({
                "action": action.as_str(),
                "reverse": action.reverse().map(ActionName::as_str),
                "side_effect": action.has_side_effect(),
                "targets": action.target_kinds().iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                "description": action.description(),
            });
            println!("{line}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<26} {:<26} {:<20} DESCRIPTION",
        "ACTION", "REVERSE", "TARGETS"
    );
    for &action in ActionName::ALL {
        let targets: Vec<&str> = action.target_kinds().iter().map(|k| k.as_str()).collect();
        println!(
            "{:<26} {:<26} {:<20} {}",
            action.as_str(),
            action.reverse().map_or("-", ActionName::as_str),
            if targets.is_empty() {
                "case".to_owned()
            } else {
                targets.join(",")
            },
            action.description()
        );
    }
    Ok(ExitCode::SUCCESS)
}
