//! `immutable-log`: write, verify and inspect tamper-evident logs. The logic
//! lives in `immutable_log::std_backend::cli`.

fn main() -> std::process::ExitCode {
    immutable_log::std_backend::cli::main()
}
