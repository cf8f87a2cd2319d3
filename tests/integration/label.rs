//! `warden label`: embed, read, verify and propagate on real files, with the CLI contract
//! (exit 0 conformant, 1 not; `--json` prints the seven keys).

use serde_json::json;

use crate::support::{TestHome, json, stderr, stdout};

/// A tiny PCM WAV: 8 kHz mono 16-bit.
fn wav() -> Vec<u8> {
    let samples: Vec<u8> = (0..64u16).flat_map(|n| (n * 300).to_le_bytes()).collect();
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(4 + 24 + 8 + samples.len() as u32).to_le_bytes());
    file.extend_from_slice(b"WAVEfmt ");
    file.extend_from_slice(&16u32.to_le_bytes());
    file.extend_from_slice(&[1, 0, 1, 0]);
    file.extend_from_slice(&8000u32.to_le_bytes());
    file.extend_from_slice(&16000u32.to_le_bytes());
    file.extend_from_slice(&[2, 0, 16, 0]);
    file.extend_from_slice(b"data");
    file.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    file.extend_from_slice(&samples);
    file
}

#[test]
fn embed_read_verify_follow_the_contract() {
    let home = TestHome::empty();
    let dir = home.dir.path();
    let input = dir.join("clip.wav");
    std::fs::write(&input, wav()).unwrap();
    let out = home.run(&["label", "verify", input.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an unlabelled file does not conform"
    );
    assert_eq!(json(&out)[0]["checks"][0]["rule"], "present");

    let output = dir.join("labelled.wav");
    let out = home.run(&[
        "label",
        "embed",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
        "--producer",
        "WARDEN-TEST",
        "--produce-id",
        "clip-1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(&input).unwrap(),
        wav(),
        "the input is never modified without --in-place"
    );

    let read = json(&home.run(&["label", "read", output.to_str().unwrap(), "--json"]));
    assert_eq!(
        read,
        json!({"Label": "1", "ContentProducer": "WARDEN-TEST", "ProduceID": "clip-1", "ReservedCode1": "",
               "ContentPropagator": "WARDEN-TEST", "PropagateID": "clip-1", "ReservedCode2": ""})
    );
    let out = home.run(&["label", "verify", output.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("CONFORMANT") && stdout(&out).contains("AI生成"),
        "{}",
        stdout(&out)
    );

    let out = home.run(&[
        "label",
        "propagate",
        output.to_str().unwrap(),
        "--in-place",
        "--propagator",
        "PLATFORM-9",
        "--propagate-id",
        "v-77",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let read = json(&home.run(&["label", "read", output.to_str().unwrap(), "--json"]));
    assert_eq!(
        (
            read["ContentProducer"].clone(),
            read["ContentPropagator"].clone(),
            read["PropagateID"].clone()
        ),
        (json!("WARDEN-TEST"), json!("PLATFORM-9"), json!("v-77"))
    );
}

#[test]
fn platform_duty_labels_declared_content_as_possibly() {
    let home = TestHome::empty();
    let input = home.dir.path().join("upload.wav");
    std::fs::write(&input, wav()).unwrap();
    let report = json(&home.run(&[
        "label",
        "verify",
        input.to_str().unwrap(),
        "--declared",
        "--json",
    ]));
    assert_eq!(report[0]["display"]["generated"], "possibly");
    let output = home.dir.path().join("shown.wav");
    let out = home.run(&[
        "label",
        "propagate",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
        "--propagator",
        "PLATFORM-9",
        "--propagate-id",
        "u-1",
        "--declared",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let read = json(&home.run(&["label", "read", output.to_str().unwrap(), "--json"]));
    assert_eq!(
        (read["Label"].clone(), read["ContentPropagator"].clone()),
        (json!("2"), json!("PLATFORM-9"))
    );
    assert_eq!(
        home.run(&["label", "verify", output.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn bad_label_input_is_refused_and_nothing_is_written() {
    let home = TestHome::empty();
    let dir = home.dir.path();
    let input = dir.join("clip.wav");
    std::fs::write(&input, wav()).unwrap();
    let output = dir.join("out.wav");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--producer", "生成公司", "--produce-id", "1"],
            "character set",
        ),
        (&["--producer", "P", "--produce-id", "a b"], "character set"),
        (
            &["--producer", "P", "--produce-id", "1", "--label", "maybe"],
            "invalid value 'maybe'",
        ),
    ];
    for (extra, message) in cases {
        let mut args = vec![
            "label",
            "embed",
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = home.run(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(
            stderr(&out).contains(message),
            "{extra:?}: {}",
            stderr(&out)
        );
        assert!(!output.exists(), "nothing is written on bad input");
    }
    let out = home.run(&[
        "label",
        "embed",
        input.to_str().unwrap(),
        "--producer",
        "P",
        "--produce-id",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--in-place"), "{}", stderr(&out));
    let corrupt = dir.join("corrupt.wav");
    std::fs::write(&corrupt, &wav()[..50]).unwrap();
    let out = home.run(&[
        "label",
        "embed",
        corrupt.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
        "--producer",
        "P",
        "--produce-id",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!output.exists());
    let out = home.run(&["label", "verify", corrupt.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        json(&out)[0]["error"].as_str().unwrap().contains("WAV"),
        "{}",
        stdout(&out)
    );
    let unsupported = dir.join("data.bin");
    std::fs::write(&unsupported, [0u8, 159, 146, 150]).unwrap();
    let out = home.run(&["label", "read", unsupported.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unsupported format"),
        "{}",
        stderr(&out)
    );
}
