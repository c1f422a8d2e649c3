//! The `hongbao` binary: run red-packet traffic through the settlement core
//! and its Wasm risk rules, generate sample traffic, and check rule modules.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for a run that finished but whose money invariants failed.
const EXIT_INVARIANT: u8 = 1;
/// Exit code for bad arguments, configs or input files.
const EXIT_USAGE: u8 = 2;
/// Exit code for `check` when a module is refused.
const EXIT_REFUSED: u8 = 3;
/// Exit code for a bug in hongbao itself.
const EXIT_INTERNAL: u8 = 70;

#[derive(Parser)]
#[command(
    name = "hongbao",
    version,
    about = "Red-packet settlement with sandboxed Wasm risk rules",
    long_about = "Red-packet (红包) settlement: merchants fund packets, users claim shares, shares \
                  are paid out, and at every claim and payout the platform's and the merchant's \
                  risk rules run as sandboxed WebAssembly modules.\n\nStart with `hongbao demo`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate seeded sample traffic, run it through the bundled sample rules, print the report.
    Demo(hongbao::cli::DemoArgs),
    /// Write seeded sample traffic (JSONL) with labelled abuse patterns.
    GenTraffic(hongbao::cli::GenArgs),
    /// Run a traffic file through the rules of a config; write decisions and a report.
    Run(hongbao::cli::RunArgs),
    /// Validate rule modules and say exactly why each refused one is refused.
    Check(hongbao::cli::CheckArgs),
    /// Print the config that `demo` uses, to start your own from.
    DemoConfig(hongbao::cli::DemoConfigArgs),
}

fn main() -> ExitCode {
    // A compiler child of another hongbao process (risk/compiler.rs): no
    // CLI, no threads, just one compile.
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() == Some(std::ffi::OsStr::new(hongbao::risk::compiler::CHILD_ARG)) {
        let rest: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
        let status = hongbao::risk::compiler::child_main(&rest);
        return ExitCode::from(u8::try_from(status).unwrap_or(EXIT_INTERNAL));
    }
    // Modules are compiled in child processes of this executable, so that a
    // compile over its budget is killed rather than left running.
    if let Ok(exe) = std::env::current_exe() {
        hongbao::risk::compiler::compile_in_child_processes(exe);
    }
    let cli = Cli::parse();
    // Guest frames run on the native stack of the thread that calls them.
    // The main thread's stack is whatever `ulimit -s` says; a thread of our
    // own has the size the sandbox's stack limit was validated against, so a
    // deep-recursing rule traps with stack-overflow instead of aborting.
    let worker = std::thread::Builder::new()
        .name("hongbao-main".into())
        .stack_size(hongbao::risk::limits::WORKER_STACK_BYTES)
        .spawn(move || match cli.command {
            Command::Demo(a) => hongbao::cli::demo(&a),
            Command::GenTraffic(a) => hongbao::cli::gen_traffic(&a),
            Command::Run(a) => hongbao::cli::run(&a),
            Command::Check(a) => hongbao::cli::check(&a),
            Command::DemoConfig(a) => hongbao::cli::demo_config(&a),
        });
    let result = match worker.map(std::thread::JoinHandle::join) {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => {
            eprintln!("hongbao: error: internal error: the worker thread panicked");
            return ExitCode::from(EXIT_INTERNAL);
        }
        Err(e) => {
            eprintln!("hongbao: error: cannot start the worker thread: {e}");
            return ExitCode::from(EXIT_INTERNAL);
        }
    };
    match result {
        Ok(hongbao::cli::Status::Ok) => ExitCode::SUCCESS,
        Ok(hongbao::cli::Status::InvariantBroken) => ExitCode::from(EXIT_INVARIANT),
        Ok(hongbao::cli::Status::Refused) => ExitCode::from(EXIT_REFUSED),
        Err(e) => {
            // One line, whatever a module or a rule put in the message.
            let message = format!("{e:#}");
            eprintln!("hongbao: error: {}", hongbao::cli::printable(&message));
            ExitCode::from(EXIT_USAGE)
        }
    }
}
