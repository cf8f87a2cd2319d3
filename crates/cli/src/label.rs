//! `warden label`: GB 45438 labels on files.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use serde_json::{Value, json};
use warden_mark::{AigcLabel, Generated, file};

use crate::args::{
    CueArg, ExplicitArgs, GeneratedArg, LabelCommand, OutputArgs, PositionArg, TextMarkArg,
};
use crate::commands::print_json;
use crate::exit::{self, Failure};
use warden_mark::explicit::{audio::CuePlacement, image::Position, text::TextMark};

type Outcome = Result<u8, Failure>;

impl From<warden_mark::MarkError> for Failure {
    fn from(error: warden_mark::MarkError) -> Self {
        match error {
            warden_mark::MarkError::Io(_) => Failure::environment(error),
            other => Failure::usage(other),
        }
    }
}

fn generated(arg: GeneratedArg) -> Generated {
    match arg {
        GeneratedArg::Is => Generated::Is,
        GeneratedArg::Possibly => Generated::Possibly,
        GeneratedArg::Suspected => Generated::Suspected,
    }
}

fn text_mark(arg: TextMarkArg) -> TextMark {
    match arg {
        TextMarkArg::Prefix => TextMark::Prefix,
        TextMarkArg::Suffix => TextMark::Suffix,
        TextMarkArg::Corner => TextMark::CornerMark,
    }
}

fn explicit_options(args: &ExplicitArgs) -> file::ExplicitOptions {
    let defaults = warden_mark::explicit::image::ImageLabelOptions::default();
    let image = warden_mark::explicit::image::ImageLabelOptions {
        position: match args.position {
            PositionArg::TopLeft => Position::TopLeft,
            PositionArg::TopRight => Position::TopRight,
            PositionArg::BottomLeft => Position::BottomLeft,
            PositionArg::BottomRight => Position::BottomRight,
            PositionArg::Top => Position::Top,
            PositionArg::Bottom => Position::Bottom,
        },
        height_fraction: args.height_fraction,
        text: args.wording.clone().unwrap_or(defaults.text),
    };
    file::ExplicitOptions {
        image,
        cue: Some(match args.cue {
            CueArg::Start => CuePlacement::Start,
            CueArg::End => CuePlacement::End,
        }),
        text_mark: Some(text_mark(args.text_mark)),
        wording: args.wording.clone(),
    }
}

fn destination(input: &Path, output: &OutputArgs) -> Result<PathBuf, Failure> {
    match (&output.output, output.in_place) {
        (Some(path), false) if path == input => Err(Failure::usage(anyhow!(
            "-o names the input file; pass --in-place to replace it"
        ))),
        (Some(path), false) => Ok(path.clone()),
        (None, true) => Ok(input.to_owned()),
        _ => Err(Failure::usage(anyhow!(
            "say where to write: -o OUT, or --in-place to replace the input"
        ))),
    }
}

fn label_json(label: &AigcLabel) -> Value {
    serde_json::to_value(label).unwrap_or(Value::Null)
}

/// Run a `warden label` command.
pub fn run(command: LabelCommand, json_output: bool) -> Outcome {
    match command {
        LabelCommand::Text {
            mark,
            wording,
            ui_notice,
        } => {
            if ui_notice {
                println!(
                    "{}",
                    warden_mark::explicit::text::ui_notice(wording.as_deref())?
                );
                return Ok(exit::OK);
            }
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| Failure::usage(anyhow!("standard input is not UTF-8 text: {e}")))?;
            print!(
                "{}",
                warden_mark::explicit::text::mark_text(&text, text_mark(mark), wording.as_deref())?
            );
            Ok(exit::OK)
        }
        LabelCommand::Embed {
            input,
            output,
            producer,
            produce_id,
            label,
            reserved_code1,
            explicit,
        } => {
            let destination = destination(&input, &output)?;
            let mut aigc = AigcLabel::new(generated(label), &producer, &produce_id)?;
            if let Some(reserved) = reserved_code1 {
                aigc.reserved_code1 = reserved;
                aigc.validate()?;
            }
            let (format, visible) = if explicit.explicit {
                let (format, outcome) = file::embed_explicit(
                    &input,
                    &destination,
                    &aigc,
                    &explicit_options(&explicit),
                )?;
                (format, Some(outcome))
            } else {
                (file::embed(&input, &destination, &aigc)?, None)
            };
            if json_output {
                print_json(
                    &json!({"file": destination, "format": format, "label": label_json(&aigc), "explicit": visible}),
                );
            } else {
                println!(
                    "{}: labelled ({}) {}",
                    destination.display(),
                    format.name(),
                    aigc.to_json()
                );
                if let Some(outcome) = visible {
                    match outcome.height_ratio {
                        Some(ratio) => println!(
                            "  explicit: {} with text height {:.1} % of the shortest side",
                            outcome.kind,
                            ratio * 100.0
                        ),
                        None => println!("  explicit: {}", outcome.kind),
                    }
                }
            }
            Ok(exit::OK)
        }
        LabelCommand::Read { file: path } => {
            let format = file::detect(&path)?;
            let values = file::read_values(&path, format)?;
            let Some(first) = values.first() else {
                eprintln!("warden: {}: no AIGC label", path.display());
                return Ok(exit::CHECK_FAILED);
            };
            if values.len() > 1 {
                eprintln!(
                    "warden: {}: {} labels found (GB 45438 allows one); showing the first",
                    path.display(),
                    values.len()
                );
            }
            let inspection = warden_mark::label::inspect(first);
            if json_output {
                match &inspection.label {
                    Some(label) => print_json(&label_json(label)),
                    None => print_json(&json!({"raw": first})),
                }
            } else {
                match &inspection.label {
                    Some(label) => {
                        for (key, value) in label_json(label).as_object().into_iter().flatten() {
                            println!("{key:<18} {}", value.as_str().unwrap_or_default());
                        }
                    }
                    None => println!("{first}"),
                }
            }
            Ok(exit::OK)
        }
        LabelCommand::Verify {
            files,
            declared,
            detected,
        } => {
            // A file that is not there is a mistake on the command line, not a verdict.
            if let Some(missing) = files.iter().find(|path| !path.is_file()) {
                return Err(Failure::usage(anyhow!(
                    "cannot read {}: no such file; check the path",
                    missing.display()
                )));
            }
            let mut all_ok = true;
            let mut reports = Vec::new();
            for path in &files {
                let report = file::verify(path);
                all_ok &= report.conformant;
                let display = file::display(path, declared, detected).ok();
                if json_output {
                    let mut value = serde_json::to_value(&report).unwrap_or(Value::Null);
                    value["display"] = serde_json::to_value(&display).unwrap_or(Value::Null);
                    reports.push(value);
                } else {
                    let verdict = if report.conformant {
                        "CONFORMANT"
                    } else {
                        "NOT CONFORMANT"
                    };
                    println!("{}: {verdict}", report.file);
                    if let Some(error) = &report.error {
                        println!("  error: {error}");
                    }
                    for check in &report.checks {
                        println!(
                            "  [{}] {:<10} {}",
                            if check.passed { "ok" } else { "!!" },
                            check.rule,
                            check.detail
                        );
                    }
                    if let Some(display) = display {
                        println!(
                            "  show as: {} ({})",
                            display.notice.unwrap_or("no notice required"),
                            display.reason
                        );
                    }
                }
            }
            if json_output {
                print_json(&Value::Array(reports));
            }
            Ok(if all_ok { exit::OK } else { exit::CHECK_FAILED })
        }
        LabelCommand::Propagate {
            input,
            output,
            propagator,
            propagate_id,
            reserved_code2,
            declared,
            detected,
        } => {
            let destination = destination(&input, &output)?;
            let written = file::propagate(
                &input,
                &destination,
                &propagator,
                &propagate_id,
                reserved_code2.as_deref(),
                declared,
                detected,
            )?;
            match (written, json_output) {
                (Some(label), true) => {
                    print_json(&json!({"file": destination, "label": label_json(&label)}))
                }
                (Some(label), false) => println!("{}: {}", destination.display(), label.to_json()),
                (None, true) => print_json(&json!({"file": Value::Null, "label": Value::Null})),
                (None, false) => println!(
                    "no label, declaration or detection: nothing to propagate, nothing written"
                ),
            }
            Ok(exit::OK)
        }
    }
}
