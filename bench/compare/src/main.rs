//! immutable-log beside plain loggers and `audit-trail`: the README's
//! performance table. Run through `bench/compare.sh`, which builds this in
//! release and runs `table`.
//!
//! ```sh
//! immutable-log-compare table                       # every workload, the table on stdout
//! immutable-log-compare run CONTENDER THREADS PER_THREAD DIR   # one run (what `table` spawns)
//! ```
//!
//! Environment (for `table`): `COMPARE_RUNS` (5), `COMPARE_BUFFERED_RECORDS`
//! (500000), `COMPARE_FLUSH_RECORDS` (200000), `COMPARE_VERIFY_RECORDS`
//! (1000000), `COMPARE_SYNC_RECORDS` (500), `COMPARE_ONLY` (workload ids,
//! comma-separated: `1-buffered,1-flush,8-flush,500-flush,500-buffered,8-buffered,verify,keyed,1-events,8-events`).

mod common;
mod contender;
mod driver;
mod events;
mod limits;
mod peers;
mod subject;

use std::path::PathBuf;
use std::process::ExitCode;

use common::Res;
use contender::Contender;

fn main() -> ExitCode {
    match dispatch() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["table"] => driver::table(),
        ["run", name, threads, per_thread, dir] => {
            let contender =
                Contender::parse(name).ok_or_else(|| format!("no contender called {name}"))?;
            let measured =
                contender.run(&PathBuf::from(dir), threads.parse()?, per_thread.parse()?)?;
            println!("{}", measured.line());
            Ok(())
        }
        _ => Err(
            "usage: immutable-log-compare [table] | run CONTENDER THREADS PER_THREAD DIR".into(),
        ),
    }
}
