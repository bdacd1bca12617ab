//! The seed's continuation test: three sessions append to one log, each
//! continuing the chain where the last one stopped. Then a crash mid-record,
//! and the next session keeping the torn bytes.
//!
//! ```sh
//! cargo run --release --features std --example continuation
//! ```

use std::error::Error;
use std::fs;

use immutable_log::std_backend::{read_head, verify_path, LogFile};
use immutable_log::{Head, Level, Options, Verdict};

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::temp_dir().join("immutable-log-example-continuation.log");
    let _ = fs::remove_file(&path);
    println!("log: {}\n", path.display());

    for session in 1..=3 {
        // Opening reads only the end of the file to find the chain's head.
        let log = LogFile::open(&path)?;
        println!("session {session}: opened at head {}", show(log.head()));
        for i in 1..=3 {
            log.append(Level::Info, format_args!("Session {session} - Message {i}"))?;
        }
        println!("           wrote 3 records, head now {}", show(log.head()));
        log.close()?;
    }
    verify(&path)?;

    // A crash while the last record was being written: its tail never came.
    let bytes = fs::read(&path)?;
    fs::write(&path, bytes.get(..bytes.len() - 25).ok_or("short log")?)?;
    println!("\ncrash: the last record lost its final 25 bytes");
    if let Verdict::Torn(report, torn) = verify_path(&path, Options::default())? {
        println!(
            "verify: torn tail after {} intact records ({} bytes at line {})",
            report.records, torn.len, torn.line
        );
    }
    println!("head (last complete record): {}", show(read_head(&path)?));

    let log = LogFile::open(&path)?;
    if let Some(recovered) = log.recovered() {
        println!(
            "\nsession 4: the torn {} bytes were cut off and written back inside a \
             recovery record; head {}",
            recovered.len,
            show(recovered.head)
        );
    }
    log.append(Level::Info, format_args!("Session 4 - after the crash"))?;
    log.close()?;
    verify(&path)?;
    Ok(())
}

fn verify(path: &std::path::Path) -> Result<(), Box<dyn Error>> {
    match verify_path(path, Options::default())? {
        Verdict::Intact(report) => {
            println!(
                "verify: intact, {} records, one chain from genesis",
                report.records
            );
            Ok(())
        }
        other => Err(format!("verification failed: {other:?}").into()),
    }
}

fn show(head: Option<Head>) -> String {
    match head {
        None => "(empty log)".into(),
        Some(head) => {
            let hash = head.hash.to_string();
            let seq = head.seq.map_or("-".into(), |s| s.to_string());
            format!("seq {seq}, hash {}…", hash.get(..12).unwrap_or(&hash))
        }
    }
}
