//! `warden keys signer`: people's own signing keys, registered in the ledger (countersigned by the
//! instance key), with which they sign gate sign-offs.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;

use anyhow::anyhow;
use serde_json::json;
use warden_ledger::Ledger;
use warden_ledger::access::{self, person_id};
use warden_ledger::note::{NoteSigner, NoteVerifier};

use crate::args::{Global, SignerCommand};
use crate::commands::{local_actor, print_json};
use crate::exit::{self, Failure};

/// Run a `warden keys signer` command.
pub async fn run(global: &Global, ledger: &Ledger, command: SignerCommand) -> Result<u8, Failure> {
    match command {
        SignerCommand::New { person, out, actor } => {
            let verifier = write_new_key(&person, &out)?;
            register(global, ledger, &person, &verifier, actor).await?;
            if !global.json {
                eprintln!(
                    "The private key is in {}; hand it to {} alone (it signs their gate sign-offs).",
                    out.display(),
                    person_id(&person)
                );
            }
        }
        SignerCommand::Add {
            person,
            verifier,
            actor,
        } => register(global, ledger, &person, &read_verifier(&verifier)?, actor).await?,
        SignerCommand::Revoke {
            person,
            verifier,
            actor,
        } => {
            let verifier = read_verifier(&verifier)?;
            let entry =
                access::revoke_signer(ledger, &person, &verifier, &local_actor(actor)).await?;
            report(global, &person, &verifier, entry.index, "revoked");
        }
        SignerCommand::List => {
            let state = ledger.access_state().await?;
            let rows: Vec<_> = state
                .signers
                .iter()
                .map(|s| {
                    json!({"person": s.person, "verifier": s.verifier.to_string(),
                           "ledger_index": s.index, "revoked_at_index": s.revoked})
                })
                .collect();
            if global.json {
                print_json(&json!(rows));
            } else {
                for s in &state.signers {
                    let status = s
                        .revoked
                        .map_or("live".to_owned(), |i| format!("revoked at entry {i}"));
                    println!("{:<20} {}  {status}", s.person, s.verifier);
                }
            }
        }
    }
    Ok(exit::OK)
}

/// Make a signing key for `person` and write its private half to `out` (mode 0600, which must not
/// exist yet); the public half is returned for registration.
fn write_new_key(person: &str, out: &std::path::Path) -> Result<NoteVerifier, Failure> {
    let signer = NoteSigner::generate(&note_name(person))
        .map_err(|e| Failure::usage(anyhow!("cannot make a signing key: {e}")))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| {
            Failure::usage(anyhow!(
                "cannot create {}: {e} (choose a path that does not exist yet)",
                out.display()
            ))
        })?;
    writeln!(file, "{}", signer.private_key())
        .and_then(|()| file.sync_all())
        .map_err(|e| Failure::environment(anyhow!("{}: {e}", out.display())))?;
    Ok(signer.verifier())
}

/// Register `verifier` as `person`'s signing key and say so.
async fn register(
    global: &Global,
    ledger: &Ledger,
    person: &str,
    verifier: &NoteVerifier,
    actor: Option<String>,
) -> Result<(), Failure> {
    let entry = access::register_signer(ledger, person, verifier, &local_actor(actor)).await?;
    report(global, person, verifier, entry.index, "registered");
    Ok(())
}

/// A note key name for `person`: note names cannot hold spaces or `+`.
fn note_name(person: &str) -> String {
    let slug: String = person_id(person)
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("signer-{slug}")
}

/// A verifier key given inline or as @FILE.
pub(crate) fn read_verifier(text: &str) -> Result<NoteVerifier, Failure> {
    let text = match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(anyhow!("cannot read verifier key {path}: {e}")))?,
        None => text.to_owned(),
    };
    NoteVerifier::parse(&text).map_err(|e| {
        Failure::usage(anyhow!(
            "not a verifier key ({e}); expected name+hexid+base64 as `warden keys signer new` prints"
        ))
    })
}

fn report(global: &Global, person: &str, verifier: &NoteVerifier, index: u64, what: &str) {
    if global.json {
        print_json(
            &json!({"person": person_id(person), "verifier": verifier.to_string(), "ledger_index": index}),
        );
    } else {
        println!(
            "signing key {verifier} of `{}` {what} (ledger entry {index})",
            person_id(person)
        );
    }
}

/// A person's private signing key from `path`.
pub(crate) fn read_signing_key(path: &std::path::Path) -> Result<NoteSigner, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(anyhow!("cannot read signing key {}: {e}", path.display())))?;
    NoteSigner::from_private_key(&text).map_err(|e| {
        Failure::usage(anyhow!(
            "{} is not a signing key ({e}); `warden keys signer new` makes one",
            path.display()
        ))
    })
}

/// The person the ledger registered `signer`'s key to: whoever signs is named by the ledger,
/// never by a name typed on the command line.
pub(crate) fn registered_person(
    access: &access::AccessState,
    signer: &NoteSigner,
) -> Result<String, Failure> {
    let verifier = signer.verifier();
    access
        .signers
        .iter()
        .find(|s| s.verifier == verifier && s.revoked.is_none())
        .map(|s| s.person.clone())
        .ok_or_else(|| {
            Failure::usage(anyhow!(
                "the signing key {verifier} is not registered to anyone in this ledger (or was revoked); an admin registers it with `warden keys signer add`"
            ))
        })
}
