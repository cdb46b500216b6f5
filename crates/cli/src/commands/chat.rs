//! `charrnn chat`: write with a model at a prompt. A line is a prime whose
//! continuation streams out; `/temperature`, `/top-n`, `/length`, `/seed`
//! change the options; Ctrl-C stops a generation, Ctrl-D leaves.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use charrnn::sample::{Engine, Generator, SampleOptions, SampleOverrides};
use rustyline::error::ReadlineError;

/// What `charrnn chat` was asked.
#[derive(clap::Args)]
pub struct ChatArgs {
    #[command(flatten)]
    model: crate::model_choice::ModelChoice,
}

const HELP: &str = "type a prime and press Enter to continue it; /temperature T, /top-n N, /length N, /seed S change the options, /options shows them; Ctrl-C stops a generation, Ctrl-D leaves";

/// Ctrl-C while a continuation streams stops it; at any other time (the
/// prompt reads Ctrl-C as a key) it exits with 130.
fn stop_flag(generating: Arc<AtomicBool>) -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if generating.load(Ordering::SeqCst) {
            flag.store(true, Ordering::SeqCst);
        } else {
            std::process::exit(130);
        }
    })?;
    Ok(stop)
}

/// Runs `charrnn chat`.
pub fn cmd_chat(args: ChatArgs) -> anyhow::Result<()> {
    let generating = Arc::new(AtomicBool::new(false));
    let stop = stop_flag(generating.clone())?;
    let (meta, model) = args.model.load()?;
    let mut generator = Generator::new(Engine::from_model(&model), meta.vocab.clone())?;
    let mut options = meta.config.sample.clone();
    let mut editor = rustyline::DefaultEditor::new()?;
    println!("charrnn chat: {} ({HELP})", meta.dir.display());
    loop {
        let line = match editor.readline("> ") {
            Ok(line) => line,
            // Ctrl-C at the prompt clears the line, as in a shell.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if line.trim().is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(line.as_str());
        if let Some(command) = line.strip_prefix('/') {
            match set_option(&mut options, command, &generator) {
                Ok(said) => println!("{said}"),
                Err(e) => println!("{e}"),
            }
            continue;
        }
        let asked = SampleOverrides {
            prime: Some(line),
            ..SampleOverrides::default()
        }
        .over(&options);
        stop.store(false, Ordering::SeqCst);
        generating.store(true, Ordering::SeqCst);
        let continued = continue_text(&mut generator, &asked, &stop);
        generating.store(false, Ordering::SeqCst);
        match continued {
            Ok(true) => println!("\n[stopped]"),
            Ok(false) => println!(),
            Err(e) => println!("{e}"),
        }
    }
}

/// Applies `/name value`; returns what the options are now.
fn set_option(
    options: &mut SampleOptions,
    command: &str,
    generator: &Generator,
) -> Result<String, String> {
    let mut words = command.split_whitespace();
    let (name, value) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let key = match name {
        "temperature" | "temp" => "temperature",
        "top-n" | "top_n" => "top_n",
        "length" => "length",
        "seed" => "seed",
        "options" => return Ok(describe(options)),
        "help" => return Ok(HELP.into()),
        _ => return Err(format!("unknown command /{name}: {HELP}")),
    };
    let set = SampleOverrides::one(key, value).map_err(|e| {
        format!(
            "/{name} takes {}, e.g. /{name} {}",
            e.expected,
            example(key)
        )
    })?;
    let next = set.over(options);
    next.validate().map_err(|e| e.to_string())?;
    crate::commands::sample::memory_limits()
        .check(generator.bytes_per_stream(), &next, 1)
        .map_err(|e| e.to_string())?;
    *options = next;
    Ok(describe(options))
}

/// The options chat lets one change, as `/options` shows them.
fn describe(options: &SampleOptions) -> String {
    format!(
        "temperature {}, top-n {}, length {}, seed {}",
        options.temperature, options.top_n, options.length, options.seed
    )
}

fn example(key: &str) -> &'static str {
    match key {
        "temperature" => "0.8",
        "length" => "300",
        _ => "5",
    }
}

/// Streams the continuation of `options.prime` to stdout; returns whether
/// Ctrl-C stopped it.
fn continue_text(
    generator: &mut Generator,
    options: &SampleOptions,
    stop: &AtomicBool,
) -> anyhow::Result<bool> {
    let mut out = std::io::stdout().lock();
    let mut failed = None;
    generator.generate_while(options, |ch| {
        if let Err(e) = write!(out, "{ch}").and_then(|_| out.flush()) {
            failed = Some(e);
        }
        failed.is_none() && !stop.load(Ordering::SeqCst)
    })?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(stop.load(Ordering::SeqCst)),
    }
}
